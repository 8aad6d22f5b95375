// Certificates (spec/certificate.md, spec/membership.md): the canonical codec and every decoder
// rejection, key files, membership digests, the auditor's PASS on the example certificates and its
// FAIL naming the check for each kind of forgery, log chain breaks, and the spec's test vectors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/certificate.hpp"
#include "core/fusion.hpp"
#include "runtime/auditor.hpp"
#include "runtime/examples.hpp"

namespace bf::runtime {
namespace {

namespace cc = core::cert;
namespace fs = std::filesystem;

const Examples& examples() {
  static const Examples ex = [] {
    auto e = make_examples();
    EXPECT_TRUE(e.ok()) << e.error().message;
    return e.value();
  }();
  return ex;
}

const Bytes& file_bytes(const std::string& name) {
  for (const auto& f : examples().log) {
    if (f.name == name) return f.bytes;
  }
  ADD_FAILURE() << "no example " << name;
  static const Bytes none;
  return none;
}

std::string error_of(std::span<const std::uint8_t> b) {
  auto c = cc::decode_certificate(b);
  return c ? std::string("accepted") : c.error().message;
}

// A malicious head: changes a decoded certificate and signs it again with the real head key, so
// only the semantic checks can catch it.
Bytes resign(const Bytes& bytes, const std::function<void(cc::Certificate&)>& change) {
  auto c = cc::decode_certificate(bytes);
  EXPECT_TRUE(c.ok());
  cc::Certificate cert = c.value();
  change(cert);
  cert.head_signature = {};
  auto raw = cc::encode_certificate(cert);
  EXPECT_TRUE(raw.ok()) << raw.error().message;
  cert.head_signature = sign(keypair_from_seed(examples().head_seed), cc::certificate_signing_message(*raw));
  auto out = cc::encode_certificate(cert);
  EXPECT_TRUE(out.ok());
  return out.value();
}

CheckState state_of(const Report& r, const std::string& check) {
  for (const auto& c : r.checks) {
    if (c.name == check) return c.state;
  }
  ADD_FAILURE() << "no check named " << check;
  return CheckState::skip;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "bf-cert-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

// ---- codec ----

TEST(Certificate, EveryExampleRoundTripsByteForByte) {
  ASSERT_EQ(examples().log.size(), 6u);
  for (const auto& f : examples().log) {
    if (f.name.ends_with(".cert")) {
      auto c = cc::decode_certificate(f.bytes);
      ASSERT_TRUE(c.ok()) << f.name << ": " << c.error().message;
      auto again = cc::encode_certificate(*c);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(*again, f.bytes) << f.name;
    } else {
      auto e = cc::decode_equivocation(f.bytes);
      ASSERT_TRUE(e.ok()) << f.name << ": " << e.error().message;
      EXPECT_EQ(*cc::encode_equivocation(*e), f.bytes);
    }
  }
  auto m = cc::decode_membership(examples().membership.canonical);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, examples().membership.record);
}

TEST(Certificate, DecodedFieldsAreTheProducersChoices) {
  auto c = cc::decode_certificate(file_bytes("000001.cert"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->n, 4u);
  EXPECT_EQ(c->f, 1u);
  EXPECT_EQ(c->q, 3u);
  EXPECT_EQ(c->outcome, core::Outcome::decided);
  EXPECT_EQ(c->decided_signers, 0b0111u);  // alpha, bravo, charlie; delta's 9000 is outvoted
  EXPECT_EQ(*cc::i64_from(c->fused_output, "fused"), 42'000'000);
  EXPECT_EQ(c->sequence, 1u);
  EXPECT_EQ(c->previous_hash, Digest{});
  auto second = cc::decode_certificate(file_bytes("000002.cert"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->outcome, core::Outcome::no_consensus);
  EXPECT_EQ(second->rounds.size(), 2u);
  EXPECT_EQ(second->previous_hash, blake2b(file_bytes("000001.cert")));
  EXPECT_EQ(second->reputation[3].value, 775'000u);  // delta disagreed once
}

TEST(Certificate, SizeForFourWorkersIsUnderTwoKiB) {
  EXPECT_LT(file_bytes("000001.cert").size(), 2048u);
  EXPECT_LT(file_bytes("000003.cert").size(), 2048u);
}

TEST(Certificate, DecoderRejectsEveryNonCanonicalForm) {
  const Bytes good = file_bytes("000001.cert");
  auto patched = [&](std::size_t at, std::uint8_t v) {
    Bytes b = good;
    b[at] = v;
    return error_of(b);
  };
  EXPECT_EQ(error_of(Bytes{}), "certificate byte 0 (magic): truncated: needs 4 bytes, 0 left");
  EXPECT_NE(patched(0, 'X').find("(magic): expected 'BFCT'"), std::string::npos);
  EXPECT_NE(patched(4, 3).find("byte 4 (version): unknown version 3; this build reads version 2"), std::string::npos);
  EXPECT_NE(patched(4, 1).find("byte 4 (version): version 1 certificates (before task checks) are no longer read"),
            std::string::npos);
  EXPECT_NE(patched(46, 0).find("byte 46 (n): n = 0 must be in 1..64"), std::string::npos);
  EXPECT_NE(patched(46, 65).find("(n): n = 65"), std::string::npos);
  EXPECT_NE(patched(47, 4).find("byte 47 (f)"), std::string::npos);
  EXPECT_NE(patched(48, 5).find("byte 48 (q)"), std::string::npos);
  EXPECT_NE(patched(49, 2).find("(quorum rule): unknown quorum rule 2"), std::string::npos);
  EXPECT_NE(patched(82, 0).find("byte 82 (sequence): sequences start at 1"), std::string::npos);
  EXPECT_NE(patched(122, 2).find("byte 122 (outcome): unknown outcome 2"), std::string::npos);
  EXPECT_NE(patched(123, 9).find("byte 123 (agreement rule)"), std::string::npos);
  EXPECT_NE(patched(124, 7).find("byte 124 (agreement parameter)"), std::string::npos);
  EXPECT_NE(patched(125, 9).find("byte 125 (rounds allowed)"), std::string::npos);
  EXPECT_NE(patched(128, 0).find("byte 126 (reputation)"), std::string::npos);  // 1000000 -> 16960
  EXPECT_NE(patched(130, 2).find("byte 130 (isolated)"), std::string::npos);
  EXPECT_NE(patched(146, 9).find("byte 146 (rounds present): 9 rounds, must be in 1..R = 3"), std::string::npos);
  EXPECT_NE(patched(147, 5).find("byte 147 (reachable)"), std::string::npos);
  EXPECT_NE(patched(148, 9).find("byte 148 (answer count): 9 answers exceed 2n = 8"), std::string::npos);
  EXPECT_NE(patched(149, 4).find("byte 149 (worker index): worker 4 is not a member"), std::string::npos);
  EXPECT_NE(patched(185, 0xff).find("byte 182 (answer payload): length"), std::string::npos);

  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_NE(error_of(trailing).find("1 trailing bytes"), std::string::npos);
  Bytes truncated(good.begin(), good.end() - 1);
  EXPECT_NE(error_of(truncated).find("(head signature): truncated"), std::string::npos);
  Bytes huge(cc::record_bytes_max + 1, 0);
  EXPECT_NE(error_of(huge).find("exceed the limit"), std::string::npos);
}

TEST(Certificate, EncoderRefusesWhatTheDecoderWouldRefuse) {
  auto c = cc::decode_certificate(file_bytes("000001.cert")).value();
  cc::Certificate unsorted = c;
  std::swap(unsorted.rounds[0].answers[0], unsorted.rounds[0].answers[1]);
  auto e = cc::encode_certificate(unsorted);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("sorted by (worker, answer id)"), std::string::npos);

  cc::Certificate wide = c;
  wide.n = 300;  // would truncate to 44 in a u8
  wide.reputation.resize(300, wide.reputation[0]);
  e = cc::encode_certificate(wide);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("(n): value 300 does not fit in 1 bytes"), std::string::npos);

  cc::Certificate unknown_rule = c;
  unknown_rule.fusion_rule = static_cast<std::uint8_t>(core::fusion::RuleId::sctt);
  e = cc::encode_certificate(unknown_rule);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("unknown fusion rule 6"), std::string::npos);

  cc::Certificate not_decided = c;
  not_decided.outcome = core::Outcome::no_consensus;
  e = cc::encode_certificate(not_decided);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("(decided signers): must be 0"), std::string::npos);

  cc::Certificate invariants = c;
  invariants.invariants = {{"Q2", {}}, {"Q1", {}}};
  e = cc::encode_certificate(invariants);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("invariants must be sorted"), std::string::npos);
  invariants.invariants = {{"q1", {}}};
  EXPECT_FALSE(cc::encode_certificate(invariants).ok());

  cc::Certificate big = c;
  big.rounds[0].answers[0].payload.assign(cc::payload_bytes_max + 1, 0);
  e = cc::encode_certificate(big);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("(answer payload): length 16385 exceeds the limit of 16384"), std::string::npos);
}

TEST(Certificate, MembershipDecoderRejectsNonCanonicalForms) {
  cc::MembershipRecord m = examples().membership.record;
  cc::MembershipRecord unsorted = m;
  std::swap(unsorted.workers[0], unsorted.workers[1]);
  auto e = cc::encode_membership(unsorted);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("out of order or a duplicate"), std::string::npos);
  cc::MembershipRecord dup_key = m;
  dup_key.workers[1].key = dup_key.workers[0].key;
  e = cc::encode_membership(dup_key);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("share a public key"), std::string::npos);
  cc::MembershipRecord bad_q = m;
  bad_q.q = 2;
  e = cc::encode_membership(bad_q);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("q = 2 but quorum_safe(n, f) = 3"), std::string::npos);
  cc::MembershipRecord bad_id = m;
  bad_id.workers[0].id = "al pha";
  EXPECT_FALSE(cc::encode_membership(bad_id).ok());
  cc::MembershipRecord seed_rule = m;
  seed_rule.rule = core::QuorumRule::seed_2f_plus_1;
  e = cc::encode_membership(seed_rule);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("unsafe"), std::string::npos);
}

TEST(Certificate, EquivocationDecoderRejectsOneAnswerTwice) {
  auto e = cc::decode_equivocation(file_bytes("000003.equivocation")).value();
  cc::EquivocationRecord same = e;
  same.second = same.first;
  auto bytes = cc::encode_equivocation(same);
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.error().message.find("greater than the first"), std::string::npos);
}

TEST(Certificate, NumericCanonicalRoundsHalfAwayFromZero) {
  EXPECT_EQ(cc::numeric_canonical(42'100'000, 0), 42'000'000);
  EXPECT_EQ(cc::numeric_canonical(42'500'000, 0), 43'000'000);
  EXPECT_EQ(cc::numeric_canonical(-42'500'000, 0), -43'000'000);
  EXPECT_EQ(cc::numeric_canonical(-42'499'999, 0), -42'000'000);
  EXPECT_EQ(cc::numeric_canonical(1'234'567, 6), 1'234'567);
  EXPECT_EQ(cc::numeric_canonical(1'234'567, 2), 1'230'000);
  EXPECT_EQ(cc::numeric_canonical(cc::numeric_abs_max, 0), cc::numeric_abs_max);
  EXPECT_EQ(cc::numeric_canonical(-cc::numeric_abs_max, 0), -cc::numeric_abs_max);
}

// ---- keys and membership ----

TEST(Certificate, KeyFileIs0600AndNeverOverwritten) {
  TempDir dir;
  const fs::path key = dir.path / "alpha.key";
  auto k = generate_key_file(key);
  ASSERT_TRUE(k.ok()) << k.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = generate_key_file(key);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find(key.string() + ": already exists; butterfly never overwrites it"),
            std::string::npos);
  auto read = read_key_file(key);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->key.public_key, k->public_key);
  EXPECT_TRUE(read->warning.empty());
  ::chmod(key.c_str(), 0644);
  read = read_key_file(key);
  ASSERT_TRUE(read.ok());
  EXPECT_NE(read->warning.find("mode 0644); run: chmod 600"), std::string::npos);
}

TEST(Certificate, KeyFileReaderRejectsDamageAndHugeFiles) {
  TempDir dir;
  const Seed seed{};
  std::string text = key_file_text(seed);
  text[text.size() - 2] = text[text.size() - 2] == '0' ? '1' : '0';  // public key no longer matches
  {
    std::ofstream(dir.path / "bad.key") << text;
    std::ofstream(dir.path / "junk.key") << "hello";
    std::ofstream(dir.path / "huge.key") << std::string(5000, 'a');
  }
  auto bad = read_key_file(dir.path / "bad.key");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("does not match its seed"), std::string::npos);
  auto junk = read_key_file(dir.path / "junk.key");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message.find("butterfly key generate --out FILE"), std::string::npos);
  auto huge = read_key_file(dir.path / "huge.key");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("5000 bytes exceed the limit of 4096"), std::string::npos);
  // The secret seed never appears in an error.
  EXPECT_EQ(bad.error().message.find(hex(seed)), std::string::npos);
}

TEST(Certificate, MembershipDigestIsStable) {
  // Changing this digest changes every certificate: it is part of the spec's test vectors.
  EXPECT_EQ(hex(examples().membership.digest),
            "bca69a5263c750b606cd1cad028639062957d3e869c37e37830de50da67711bc");
  auto j = membership_json(examples().membership);
  auto back = membership_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->digest, examples().membership.digest);

  auto edited = j;
  edited["epoch"] = 2;
  auto e = membership_from_json(edited);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("differs from the recomputed digest"), std::string::npos);
  auto extra = j;
  extra["comment"] = "x";
  EXPECT_NE(membership_from_json(extra).error().message.find("unknown field 'comment'"), std::string::npos);
  auto unsorted = j;
  std::swap(unsorted["workers"][0], unsorted["workers"][1]);
  EXPECT_NE(membership_from_json(unsorted).error().message.find("out of order"), std::string::npos);
}

// ---- auditor ----

TEST(Certificate, AuditorPassesEveryExample) {
  for (const auto& f : examples().log) {
    const Report r = f.name.ends_with(".cert") ? verify_certificate(f.bytes, examples().membership)
                                               : verify_equivocation(f.bytes, examples().membership);
    EXPECT_TRUE(r.ok()) << f.name << ": " << (r.first_failure() ? r.first_failure()->detail : "");
  }
  const Report r = verify_certificate(file_bytes("000001.cert"), examples().membership);
  std::vector<std::string> names;
  for (const auto& c : r.checks) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"encoding", "membership", "quorum", "answer-ids",
                                             "worker-signatures", "signers", "decision", "fusion",
                                             "head-signature", "task-checks", "proofs"}));
  EXPECT_EQ(state_of(r, "proofs"), CheckState::skip);
}

TEST(Certificate, AuditorNamesTheCheckAForgeryFails) {
  const Membership& m = examples().membership;
  const Bytes good = file_bytes("000001.cert");

  Bytes bad_sig = good;
  bad_sig[150 + 32 + 4 + 8 + 10] ^= 1;  // inside alpha's signature
  Report r = verify_certificate(bad_sig, m);
  EXPECT_EQ(state_of(r, "worker-signatures"), CheckState::fail);
  EXPECT_EQ(r.first_failure()->name, "worker-signatures");
  EXPECT_NE(r.first_failure()->detail.find("alpha"), std::string::npos);
  EXPECT_EQ(state_of(r, "head-signature"), CheckState::fail);

  r = verify_certificate(resign(good, [](cc::Certificate& c) { c.q = 2; }), m);
  EXPECT_EQ(state_of(r, "quorum"), CheckState::fail);
  EXPECT_EQ(state_of(r, "head-signature"), CheckState::pass);

  r = verify_certificate(resign(good, [](cc::Certificate& c) { c.rule = core::QuorumRule::seed_2f_plus_1; }), m);
  EXPECT_EQ(r.first_failure()->name, "quorum");

  r = verify_certificate(resign(good, [](cc::Certificate& c) { c.fused_output = cc::i64_bytes(42'000'001); }), m);
  EXPECT_EQ(r.first_failure()->name, "fusion");
  EXPECT_NE(r.first_failure()->detail.find("median of the cluster is 42000000 but the certificate says 42000001"),
            std::string::npos);

  r = verify_certificate(resign(good, [](cc::Certificate& c) { c.decided_signers = 0b1111; }), m);
  EXPECT_EQ(r.first_failure()->name, "decision");

  // Claiming a decision where the answers split.
  r = verify_certificate(resign(file_bytes("000002.cert"), [](cc::Certificate& c) {
                           c.outcome = core::Outcome::decided;
                           c.decided_signers = 0b0011;
                           c.decided_answer = c.rounds[1].answers[0].answer;
                           c.fusion_rule = static_cast<std::uint8_t>(core::fusion::RuleId::median);
                           c.fused_output = cc::i64_bytes(1'000'000);
                         }), m);
  EXPECT_EQ(r.first_failure()->name, "decision");

  // A head that drops an honest answer to claim NoQuorum.
  r = verify_certificate(resign(good, [](cc::Certificate& c) { c.rounds[0].reachable = 2; }), m);
  EXPECT_EQ(r.first_failure()->name, "signers");

  // Altered membership: another epoch of the same keys.
  auto other = make_membership_record("example", 2, 1, m.record.head_key, m.record.workers);
  ASSERT_TRUE(other.ok());
  r = verify_certificate(good, *other);
  EXPECT_EQ(r.first_failure()->name, "membership");

  Bytes truncated(good.begin(), good.end() - 3);
  r = verify_certificate(truncated, m);
  EXPECT_EQ(r.first_failure()->name, "encoding");
  EXPECT_EQ(r.checks.size(), 1u);
}

TEST(Certificate, AuditorChecksProofDigestsAgainstTheManifest) {
  auto ex = make_examples({{"Q1", blake2b(Bytes{1})}, {"Q2", blake2b(Bytes{2})}});
  ASSERT_TRUE(ex.ok());
  VerifyOptions o;
  o.manifest = std::map<std::string, Digest>{{"Q1", blake2b(Bytes{1})}, {"Q2", blake2b(Bytes{2})}};
  Report r = verify_certificate(ex->log[0].bytes, ex->membership, o);
  EXPECT_TRUE(r.ok());
  (*o.manifest)["Q2"] = blake2b(Bytes{3});
  r = verify_certificate(ex->log[0].bytes, ex->membership, o);
  EXPECT_EQ(r.first_failure()->name, "proofs");
}

TEST(Certificate, EquivocationRecordIsCheckedSignatureBySignature) {
  const Membership& m = examples().membership;
  Bytes bad = file_bytes("000003.equivocation");
  bad[bad.size() - 1] ^= 0x01;  // the second signature
  Report r = verify_equivocation(bad, m);
  EXPECT_EQ(r.first_failure()->name, "worker-signatures");
  auto e = cc::decode_equivocation(file_bytes("000003.equivocation")).value();
  EXPECT_EQ(e.worker, 3u);  // delta
}

TEST(Certificate, LogVerifyFindsRemovedReorderedAndAlteredCertificates) {
  TempDir dir;
  auto write_log = [&](const fs::path& d) {
    fs::create_directories(d);
    for (const auto& f : examples().log) {
      std::ofstream(d / f.name, std::ios::binary).write(reinterpret_cast<const char*>(f.bytes.data()),
                                                        static_cast<std::streamsize>(f.bytes.size()));
    }
  };
  const Membership& m = examples().membership;
  write_log(dir.path / "ok");
  auto log = verify_log(dir.path / "ok", m);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_TRUE(log->ok()) << *log->broken;
  EXPECT_EQ(log->entries.size(), 6u);

  write_log(dir.path / "removed");
  fs::remove(dir.path / "removed" / "000002.cert");
  log = verify_log(dir.path / "removed", m);
  ASSERT_FALSE(log->ok());
  EXPECT_NE(log->broken->find("000003.cert: sequence 3 follows 000001.cert's sequence 1: a certificate was removed"),
            std::string::npos) << *log->broken;

  write_log(dir.path / "first-removed");
  fs::remove(dir.path / "first-removed" / "000001.cert");
  log = verify_log(dir.path / "first-removed", m);
  EXPECT_NE(log->broken->find("earlier certificates were removed"), std::string::npos);

  write_log(dir.path / "reordered");
  fs::rename(dir.path / "reordered" / "000002.cert", dir.path / "reordered" / "tmp");
  fs::rename(dir.path / "reordered" / "000003.cert", dir.path / "reordered" / "000002.cert");
  fs::rename(dir.path / "reordered" / "tmp", dir.path / "reordered" / "000003.cert");
  log = verify_log(dir.path / "reordered", m);
  EXPECT_NE(log->broken->find("000002.cert: sequence 3 follows 000001.cert's sequence 1"), std::string::npos)
      << *log->broken;

  write_log(dir.path / "altered");
  {
    std::fstream f(dir.path / "altered" / "000002.cert", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x55');
  }
  log = verify_log(dir.path / "altered", m);
  EXPECT_NE(log->broken->find("000002.cert: "), std::string::npos) << *log->broken;
}

TEST(Certificate, LogVerifyFollowsSignedMembershipEpochs) {
  // Certificates 1-5 under epoch 1, then the head replaces delta with echo (epoch 2) and certificate 6
  // continues the chain under the new membership. The auditor starts from epoch 1's file alone.
  TempDir dir;
  const Membership& m = examples().membership;
  const Keypair head = keypair_from_seed(examples().head_seed);
  auto write = [](const fs::path& path, const Bytes& b) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                                static_cast<std::streamsize>(b.size()));
  };
  for (const auto& f : examples().log) write(dir.path / f.name, f.bytes);
  Seed echo_seed{};
  echo_seed.fill(5);
  std::vector<Keypair> keys;
  for (std::size_t i = 0; i < 3; ++i) keys.push_back(keypair_from_seed(examples().worker_seeds[i]));
  keys.push_back(keypair_from_seed(echo_seed));
  std::vector<cc::MemberKey> workers(m.record.workers.begin(), m.record.workers.end() - 1);
  workers.push_back({"echo", keys.back().public_key});
  const Membership next = make_membership_record("example", 2, 1, head.public_key, workers).value();
  write(dir.path / "000006.transition", make_membership_transition(m, next, head).value());

  ProduceRequest req;
  req.membership = &next;
  req.worker_keys = keys;
  req.head_key = head;
  req.query = {'q', '6'};
  req.agreement = cc::AgreementRule::numeric;
  req.rule = core::fusion::RuleId::median;
  req.rounds = {{4, {{0, cc::i64_bytes(7'000'000)}, {1, cc::i64_bytes(7'000'000)}, {3, cc::i64_bytes(7'000'000)}}}};
  req.sequence = 6;
  req.previous_hash = blake2b(file_bytes("000005.cert"));
  const Produced p = produce_certificate(req).value();
  write(dir.path / "000006.cert", p.bytes);

  auto log = verify_log(dir.path, m);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_TRUE(log->ok()) << *log->broken;
  EXPECT_EQ(log->entries.size(), 8u);  // 6 certificates, the transition, the equivocation record

  // Without the transition, certificate 6 names a membership the auditor was never shown.
  fs::rename(dir.path / "000006.transition", dir.path / "hidden");
  log = verify_log(dir.path, m);
  ASSERT_FALSE(log->ok());
  EXPECT_NE(log->broken->find("000006.cert: membership"), std::string::npos) << *log->broken;

  // A transition signed by a key that is not epoch 1's head is refused, and so is what follows it.
  Seed rogue_seed{};
  rogue_seed.fill(0x66);
  const Keypair rogue = keypair_from_seed(rogue_seed);
  Membership rogue_from = m;
  rogue_from.record.head_key = rogue.public_key;  // only to get make_membership_transition to sign
  auto forged = make_membership_transition(rogue_from, next, rogue).value();
  std::copy(m.digest.begin(), m.digest.end(), forged.begin() + 6);  // claim to leave the real epoch 1
  write(dir.path / "000006.transition", forged);
  log = verify_log(dir.path, m);
  ASSERT_FALSE(log->ok());
  EXPECT_NE(log->broken->find("000006.transition: head-signature failed"), std::string::npos) << *log->broken;
}

// ---- task checks ----

TEST(Certificate, TaskChecksRoundTripAndAreCarriedByTheExample) {
  auto c = cc::decode_certificate(file_bytes("000005.cert"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->outcome, core::Outcome::decided);
  ASSERT_EQ(c->tasks.size(), 1u);
  EXPECT_EQ(c->tasks[0].kind, cc::TaskKind::z3_smtlib);
  EXPECT_EQ(c->tasks[0].expected, cc::TaskExpect::unsat);
  EXPECT_EQ(c->tasks[0].text, example_task_formula);
  EXPECT_TRUE(cc::decode_certificate(file_bytes("000001.cert"))->tasks.empty());

  // Several checks, each limit at its edge, in the producer's order (not sorted).
  cc::Certificate many = *c;
  many.tasks.clear();
  for (std::uint32_t i = 0; i < cc::task_checks_max; ++i) {
    many.tasks.push_back({cc::TaskKind::z3_smtlib, i % 2 == 0 ? cc::TaskExpect::sat : cc::TaskExpect::unsat,
                          "(assert (= " + std::to_string(cc::task_checks_max - i) + " 1))\n\t\r"});
  }
  many.tasks[0].text.assign(cc::task_text_bytes_max, ' ');
  auto bytes = cc::encode_certificate(many);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto back = cc::decode_certificate(*bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, many);
  EXPECT_EQ(*cc::encode_certificate(*back), *bytes);
}

TEST(Certificate, TaskCheckLimitsAreRejectedNamingTheField) {
  const cc::Certificate c = cc::decode_certificate(file_bytes("000005.cert")).value();
  auto error_encoding = [](const cc::Certificate& x) {
    auto e = cc::encode_certificate(x);
    return e ? std::string("accepted") : e.error().message;
  };
  cc::Certificate too_many = c;
  too_many.tasks.assign(cc::task_checks_max + 1, c.tasks[0]);
  EXPECT_NE(error_encoding(too_many).find("(task check count): 9 task checks exceed the limit of 8"), std::string::npos)
      << error_encoding(too_many);
  cc::Certificate too_long = c;
  too_long.tasks[0].text.assign(cc::task_text_bytes_max + 1, ' ');
  EXPECT_NE(error_encoding(too_long).find("(task text): length 65537 exceeds the limit of 65536"), std::string::npos)
      << error_encoding(too_long);
  cc::Certificate empty = c;
  empty.tasks[0].text.clear();
  EXPECT_NE(error_encoding(empty).find("(task text): task 0: the SMT-LIB text is empty"), std::string::npos);
  cc::Certificate binary = c;
  binary.tasks[0].text[3] = '\0';
  EXPECT_NE(error_encoding(binary).find("(task text): task 0: byte 3 of the SMT-LIB text is 0"), std::string::npos)
      << error_encoding(binary);
  cc::Certificate kind = c;
  kind.tasks[0].kind = static_cast<cc::TaskKind>(2);
  EXPECT_NE(error_encoding(kind).find("(task kind): task 0: unknown kind 2"), std::string::npos);
  cc::Certificate expect = c;
  expect.tasks[0].expected = static_cast<cc::TaskExpect>(0);
  EXPECT_NE(error_encoding(expect).find("(task expected result): task 0: expected result 0 must be 1 (sat) or 2 (unsat)"),
            std::string::npos);

  // The decoder, on raw bytes: the layout is count, kind, expected, u32 length, text, signature.
  const Bytes good = file_bytes("000005.cert");
  const std::size_t text_len = c.tasks[0].text.size();
  const std::size_t count_at = good.size() - 64 - text_len - 4 - 2 - 1;
  ASSERT_EQ(good[count_at], 1u);
  Bytes b = good;
  b[count_at] = 9;
  EXPECT_NE(error_of(b).find("byte " + std::to_string(count_at) + " (task check count): 9 task checks exceed"),
            std::string::npos)
      << error_of(b);
  b = good;
  b[count_at + 3] = 0xff;
  b[count_at + 4] = 0xff;  // length 65535 + text_len > remaining bytes... and the limit check comes first
  b[count_at + 5] = 0x01;
  EXPECT_NE(error_of(b).find("(task text): length"), std::string::npos) << error_of(b);
  EXPECT_NE(error_of(b).find("exceeds the limit of 65536"), std::string::npos) << error_of(b);
}

TEST(Certificate, AuditorFailsACertificateWhoseTaskWasChanged) {
  const Membership& m = examples().membership;
  const Bytes good = file_bytes("000005.cert");
  Report r = verify_certificate(good, m);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(state_of(r, "task-checks"), CheckState::skip);

  // Re-encoded with another formula (same length) or another expected result, the old signature kept:
  // the head signed the task checks, so the head signature fails.
  cc::Certificate c = cc::decode_certificate(good).value();
  cc::Certificate text = c;
  text.tasks[0].text[text.tasks[0].text.find('>') ] = '<';
  r = verify_certificate(cc::encode_certificate(text).value(), m);
  EXPECT_EQ(r.first_failure()->name, "head-signature");
  cc::Certificate expected = c;
  expected.tasks[0].expected = cc::TaskExpect::sat;
  r = verify_certificate(cc::encode_certificate(expected).value(), m);
  EXPECT_EQ(r.first_failure()->name, "head-signature");
  cc::Certificate dropped = c;
  dropped.tasks.clear();
  r = verify_certificate(cc::encode_certificate(dropped).value(), m);
  EXPECT_EQ(r.first_failure()->name, "head-signature");

  // A flipped byte inside the text on disk: the same.
  Bytes flipped = good;
  flipped[good.size() - 64 - 5] ^= 1;
  r = verify_certificate(flipped, m);
  ASSERT_NE(r.first_failure(), nullptr);
  EXPECT_EQ(r.first_failure()->name, "head-signature");

  // The producer refuses what the decoder would refuse.
  ExampleOptions wrong;
  wrong.wrong_task_expectation = true;
  auto ex = make_examples({}, wrong);
  ASSERT_TRUE(ex.ok());
  EXPECT_TRUE(verify_certificate(ex->log.back().bytes, ex->membership).ok());  // only Z3 can tell
  EXPECT_EQ(cc::decode_certificate(ex->log.back().bytes)->tasks[0].expected, cc::TaskExpect::sat);
}

// ---- membership transitions ----

TEST(Certificate, MembershipTransitionIsSignedByTheOldHeadAndChecked) {
  const Membership& from = examples().membership;
  const Keypair head = keypair_from_seed(examples().head_seed);
  Seed other_seed{};
  other_seed.fill(0x55);
  const Keypair new_head = keypair_from_seed(other_seed);
  std::vector<cc::MemberKey> workers(from.record.workers.begin(), from.record.workers.end() - 1);  // delta leaves
  const Membership to = make_membership_record("example", 2, 0, new_head.public_key, workers).value();

  auto bytes = make_membership_transition(from, to, head);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto t = cc::decode_membership_transition(*bytes);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->old_digest, from.digest);
  EXPECT_EQ(t->next, to.record);
  EXPECT_EQ(*cc::encode_membership_transition(*t), *bytes);
  Report r = verify_membership_transition(*bytes, from);
  EXPECT_TRUE(r.ok()) << r.first_failure()->detail;
  std::vector<std::string> names;
  for (const auto& c : r.checks) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"encoding", "old-membership", "epoch", "head-signature"}));

  // The producer refuses: a key that is not the old head's, an epoch that does not grow, another cluster.
  auto e = make_membership_transition(from, to, new_head);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("not the old membership's head key"), std::string::npos);
  e = make_membership_transition(from, from, head);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("the new epoch 1 must be greater than the old epoch 1"), std::string::npos);
  const Membership renamed = make_membership_record("other", 3, 1, head.public_key, from.record.workers).value();
  e = make_membership_transition(from, renamed, head);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("cluster id"), std::string::npos);

  // The auditor: every single-byte flip fails; a transition signed by the new head fails the
  // signature; checked against another membership it fails old-membership.
  for (std::size_t at = 0; at < bytes->size(); ++at) {
    Bytes b = *bytes;
    b[at] ^= 1;
    EXPECT_FALSE(verify_membership_transition(b, from).ok()) << "flip at " << at;
  }
  cc::MembershipTransition forged = *t;
  forged.head_signature = sign(new_head, cc::membership_transition_signing_message(*bytes));
  r = verify_membership_transition(cc::encode_membership_transition(forged).value(), from);
  EXPECT_EQ(r.first_failure()->name, "head-signature");
  r = verify_membership_transition(*bytes, to);
  EXPECT_EQ(r.first_failure()->name, "old-membership");
  // A backwards epoch, even signed by the right head key, fails the epoch check.
  cc::MembershipTransition backwards = *t;
  backwards.next = from.record;
  backwards.head_signature = {};
  auto raw = cc::encode_membership_transition(backwards).value();
  backwards.head_signature = sign(head, cc::membership_transition_signing_message(raw));
  r = verify_membership_transition(cc::encode_membership_transition(backwards).value(), from);
  EXPECT_EQ(r.first_failure()->name, "epoch");
  // Decoder: wrong magic, a damaged inner membership, trailing bytes.
  Bytes bad = *bytes;
  bad[0] = 'X';
  EXPECT_NE(cc::decode_membership_transition(bad).error().message.find("(magic): expected 'BFMT'"), std::string::npos);
  bad = *bytes;
  bad[4 + 2 + 32 + 2 + 4] = 9;  // the inner membership's version
  EXPECT_NE(cc::decode_membership_transition(bad).error().message.find("(new membership): membership byte 4 (version)"),
            std::string::npos)
      << cc::decode_membership_transition(bad).error().message;
  bad = *bytes;
  bad.push_back(0);
  EXPECT_NE(cc::decode_membership_transition(bad).error().message.find("trailing bytes"), std::string::npos);
}

// ---- spec test vectors ----

TEST(Certificate, SpecTestVectorsMatch) {
  std::ifstream in(std::string(BUTTERFLY_SOURCE_DIR) + "/spec/certificate.md");
  ASSERT_TRUE(in) << "spec/certificate.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string spec = ss.str();
  const std::string marker = "<!-- test-vectors: generated, do not edit by hand -->\n";
  const auto at = spec.find(marker);
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(spec.substr(at + marker.size()), "\n" + spec_vectors(examples()))
      << "regenerate with: bf_cert_tool --spec-vectors, and replace the section after the marker";
}

}  // namespace
}  // namespace bf::runtime
