// Head and worker logic (runtime/head_logic.*, runtime/worker_logic.*) and the producer's
// signed-answer path, driven directly: no network, time is an argument.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/reputation.hpp"
#include "runtime/auditor.hpp"
#include "runtime/head_logic.hpp"
#include "runtime/producer.hpp"
#include "runtime/worker_logic.hpp"

namespace bf::runtime {
namespace {

namespace cc = core::cert;

struct TestCluster {
  Membership membership;
  Keypair head;
  std::vector<Keypair> keys;
};

TestCluster make_cluster(std::uint32_t n, std::uint32_t f) {
  TestCluster c;
  Seed hs{};
  hs[0] = 0xEE;
  c.head = keypair_from_seed(hs);
  std::vector<cc::MemberKey> members;
  for (std::uint32_t w = 0; w < n; ++w) {
    Seed s{};
    s[0] = static_cast<std::uint8_t>(0x40 + w);
    c.keys.push_back(keypair_from_seed(s));
    std::string id = "w";  // appended, not "w" + ...: GCC 12 -O3 warns falsely (-Wrestrict) on that
    id += std::to_string(w);
    members.push_back({id, c.keys.back().public_key});
  }
  auto m = make_membership_record("test", 1, f, c.head.public_key, members);
  EXPECT_TRUE(m.ok());
  c.membership = m.value();
  return c;
}

std::int64_t micro_of(const core::Result<Bytes>& b) {
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
  return b.ok() ? cc::i64_from(*b, "test").value() : 0;
}

std::string text_of(const core::Result<Bytes>& b) {
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
  return b.ok() ? std::string(b->begin(), b->end()) : "";
}

TEST(CanonicalPayload, NumericTakesTheLastNumberOfTheFirstSentenceWithOne) {
  EXPECT_EQ(micro_of(canonical_payload(cc::AgreementRule::numeric, 6, "The answer is 42.")), 42'000'000);
  EXPECT_EQ(micro_of(canonical_payload(cc::AgreementRule::numeric, 6, "2 + 2 is -3.25, not 4; wait: -3.25")),
            -3'250'000);
  // What a small model says: the answer, then a ramble with other numbers.
  EXPECT_EQ(micro_of(canonical_payload(cc::AgreementRule::numeric, 6,
                                       "The answer is 4.\n\nIn algebra, 2+2 is often called the 2+2 identity")),
            4'000'000);
  EXPECT_EQ(micro_of(canonical_payload(cc::AgreementRule::numeric, 6, "Sure! 2+2 = 4. Also 3+3 = 6.")), 4'000'000);
  EXPECT_EQ(micro_of(canonical_payload(cc::AgreementRule::numeric, 6, "It is 4.5. Not 5.")), 4'500'000);
  EXPECT_EQ(micro_of(canonical_payload(cc::AgreementRule::numeric, 0, "about 7.6")), 8'000'000);
  EXPECT_EQ(micro_of(canonical_payload(cc::AgreementRule::numeric, 6, "x=0.0000005")), 1);
  EXPECT_FALSE(canonical_payload(cc::AgreementRule::numeric, 6, "no number here").ok());
  EXPECT_FALSE(canonical_payload(cc::AgreementRule::numeric, 6, "9999999999999").ok());
}

TEST(CanonicalPayload, ExactNormalisesCaseSpaceAndTrailingPunctuation) {
  EXPECT_EQ(text_of(canonical_payload(cc::AgreementRule::exact, 0, "  Paris.  ")), "paris");
  EXPECT_EQ(text_of(canonical_payload(cc::AgreementRule::exact, 0, "Hello \t  World!!")), "hello world");
  EXPECT_FALSE(canonical_payload(cc::AgreementRule::exact, 0, " ?! ").ok());
}

TEST(Byzantine, NamesRoundTrip) {
  for (auto k : {ByzantineKind::none, ByzantineKind::wrong, ByzantineKind::random, ByzantineKind::equivocate,
                 ByzantineKind::collude, ByzantineKind::slow, ByzantineKind::silent, ByzantineKind::malformed,
                 ByzantineKind::replay}) {
    EXPECT_EQ(byzantine_from_name(byzantine_name(k)), k);
  }
  EXPECT_FALSE(byzantine_from_name("evil").has_value());
}

// Runs one Ask through a worker of the given kind; returns its actions after the model is done.
std::vector<WorkerAction> worker_run(ByzantineKind kind, core::WorkerIndex self, const TestCluster& c,
                                     const proto::Ask& ask, core::Result<ModelOutput> output) {
  WorkerConfig wc;
  wc.membership = c.membership;
  wc.key = c.keys[self];
  wc.self = self;
  wc.byzantine = kind;
  wc.slow_ms = 700;
  WorkerLogic w(wc);
  w.on_ask(ask, 100);
  std::vector<WorkerAction> out;
  for (auto& a : w.take_actions()) {
    if (auto* run = std::get_if<RunModel>(&a)) {
      EXPECT_EQ(run->ask, ask);
      w.on_model_done(run->job, output, 100);
    } else {
      out.push_back(a);
    }
  }
  for (auto& a : w.take_actions()) out.push_back(a);
  return out;
}

std::vector<proto::Answer> sent(const std::vector<WorkerAction>& actions) {
  std::vector<proto::Answer> out;
  for (const auto& a : actions) {
    if (const auto* s = std::get_if<SendAnswer>(&a)) out.push_back(s->answer);
  }
  return out;
}

TEST(WorkerLogic, KindsBehaveAsDocumented) {
  const TestCluster c = make_cluster(4, 1);
  proto::Ask ask;
  ask.query_id = blake2b(Bytes{'q'});
  ask.agreement = cc::AgreementRule::numeric;
  ask.prompt = "What is 40+2?";
  const ModelOutput honest{"The answer is 42.", {}};

  const auto h = sent(worker_run(ByzantineKind::none, 0, c, ask, honest));
  ASSERT_EQ(h.size(), 1U);
  EXPECT_EQ(cc::i64_from(h[0].answer.payload, "p").value(), 42'000'000);
  EXPECT_TRUE(verify_signed_answer(c.membership, h[0].answer, ask.query_id, 0, ask.agreement, 0).ok());

  const auto wrong = sent(worker_run(ByzantineKind::wrong, 1, c, ask, honest));
  ASSERT_EQ(wrong.size(), 1U);
  EXPECT_NE(wrong[0].answer.answer, h[0].answer.answer);

  const auto c1 = sent(worker_run(ByzantineKind::collude, 1, c, ask, honest));
  const auto c2 = sent(worker_run(ByzantineKind::collude, 2, c, ask, honest));
  ASSERT_EQ(c1.size(), 1U);
  ASSERT_EQ(c2.size(), 1U);
  EXPECT_EQ(c1[0].answer.answer, c2[0].answer.answer);  // colluders agree without talking
  EXPECT_NE(c1[0].answer.answer, h[0].answer.answer);

  const auto eq = sent(worker_run(ByzantineKind::equivocate, 3, c, ask, honest));
  ASSERT_EQ(eq.size(), 2U);
  EXPECT_NE(eq[0].answer.answer, eq[1].answer.answer);
  for (const auto& a : eq) {
    EXPECT_TRUE(verify_signed_answer(c.membership, a.answer, ask.query_id, 0, ask.agreement, 0).ok());
  }

  const auto slow = worker_run(ByzantineKind::slow, 0, c, ask, honest);
  ASSERT_EQ(slow.size(), 1U);
  EXPECT_EQ(std::get<SendAnswer>(slow[0]).not_before, 800U);

  EXPECT_TRUE(worker_run(ByzantineKind::silent, 0, c, ask, honest).empty());
  const auto bad = worker_run(ByzantineKind::malformed, 0, c, ask, honest);
  ASSERT_EQ(bad.size(), 1U);
  EXPECT_TRUE(std::holds_alternative<SendMalformed>(bad[0]));
  const auto replay = worker_run(ByzantineKind::replay, 0, c, ask, honest);
  ASSERT_EQ(replay.size(), 2U);
  EXPECT_TRUE(std::holds_alternative<ReplayLast>(replay[1]));

  const auto failed = worker_run(ByzantineKind::none, 0, c, ask, ModelOutput{"I cannot say", {}});
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_TRUE(std::holds_alternative<ModelFailed>(failed[0]));
}

// The producer's two input paths give the same certificate: answers signed by the test tool and
// the same answers signed by the workers themselves.
TEST(ProducerSignedAnswers, SameCertificateAsTheSigningPath) {
  const TestCluster c = make_cluster(4, 1);
  ProduceRequest raw;
  raw.membership = &c.membership;
  raw.worker_keys = c.keys;
  raw.head_key = c.head;
  raw.query = {'q'};
  raw.rounds = {{4, {{0, cc::i64_bytes(5'000'000)}, {1, cc::i64_bytes(5'000'000)}, {2, cc::i64_bytes(5'000'000)},
                     {3, cc::i64_bytes(7'000'000)}}}};
  auto a = produce_certificate(raw);
  ASSERT_TRUE(a.ok()) << a.error().message;

  ProduceRequest sig = raw;
  sig.worker_keys.clear();
  const Digest qid = blake2b(raw.query);
  sig.rounds = {{4, {}}};
  for (const auto& [w, payload] : raw.rounds[0].answers) {
    auto s = sign_answer(c.keys[w], w, qid, 0, c.membership.digest, raw.agreement, 0, payload);
    ASSERT_TRUE(s.ok());
    sig.rounds[0].signed_answers.push_back(*s);
  }
  auto b = produce_certificate(sig);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(a->bytes, b->bytes);
  EXPECT_TRUE(b->rejected.empty());
  EXPECT_TRUE(verify_certificate(b->bytes, c.membership).ok());
}

TEST(ProducerSignedAnswers, InvalidSignaturesAreSkippedAndListed) {
  const TestCluster c = make_cluster(4, 1);
  ProduceRequest req;
  req.membership = &c.membership;
  req.head_key = c.head;
  req.query = {'q'};
  const Digest qid = blake2b(req.query);
  req.rounds = {{4, {}}};
  for (core::WorkerIndex w = 0; w < 4; ++w) {
    auto s = sign_answer(c.keys[w], w, qid, 0, c.membership.digest, req.agreement, 0, cc::i64_bytes(5'000'000));
    ASSERT_TRUE(s.ok());
    req.rounds[0].signed_answers.push_back(*s);
  }
  req.rounds[0].signed_answers[1].signature[0] ^= 1;  // forged
  req.rounds[0].signed_answers[2].worker = 3;         // claims another worker's index
  auto p = produce_certificate(req);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->rejected.size(), 2U);
  EXPECT_EQ(p->rejected[0].worker, 1U);
  EXPECT_NE(p->rejected[0].reason.find("signature"), std::string::npos) << p->rejected[0].reason;
  // Two valid answers (workers 0 and 3) are below q = 3: no decision from forged votes.
  EXPECT_NE(p->certificate.outcome, core::Outcome::decided);
  EXPECT_TRUE(verify_certificate(p->bytes, c.membership).ok());
}

// A small harness: n WorkerLogic instances answering instantly with a fixed text per worker.
struct Harness {
  TestCluster cluster;
  HeadLogic head;
  std::vector<WorkerLogic> workers;
  std::vector<std::string> texts;
  std::vector<QueryDone> done;
  std::vector<Detection> detections;
  std::vector<WorkerIsolated> isolated;
  std::vector<SendAsk> asks;
  std::vector<bool> deliver;  // per worker: whether its answers reach the head

  static HeadConfig config(const TestCluster& c, Millis timeout) {
    HeadConfig h;
    h.membership = c.membership;
    h.head_key = c.head;
    h.round_timeout_ms = timeout;
    return h;
  }
  Harness(std::uint32_t n, std::uint32_t f, std::vector<ByzantineKind> kinds = {})
      : cluster(make_cluster(n, f)), head(config(cluster, 1000)), texts(n, "The answer is 42."), deliver(n, true) {
    EXPECT_TRUE(check_head_config(config(cluster, 1000)).ok());
    for (core::WorkerIndex w = 0; w < n; ++w) {
      WorkerConfig wc;
      wc.membership = cluster.membership;
      wc.key = cluster.keys[w];
      wc.self = w;
      wc.byzantine = w < kinds.size() ? kinds[w] : ByzantineKind::none;
      wc.seed = w;
      workers.emplace_back(wc);
      head.on_connected(w, 0);
    }
  }
  void pump(Millis now) {
    for (int guard = 0; guard < 100; ++guard) {
      auto actions = head.take_actions();
      if (actions.empty()) return;
      for (auto& a : actions) {
        if (auto* ask = std::get_if<SendAsk>(&a)) {
          asks.push_back(*ask);
          WorkerLogic& w = workers[ask->worker];
          w.on_ask(ask->ask, now);
          for (auto& wa : w.take_actions()) {
            if (auto* run = std::get_if<RunModel>(&wa)) w.on_model_done(run->job, ModelOutput{texts[ask->worker], {}}, now);
          }
          for (auto& wa : w.take_actions()) {
            if (auto* send = std::get_if<SendAnswer>(&wa); send != nullptr && deliver[ask->worker]) {
              head.on_answer(ask->worker, send->answer, now);
            }
          }
        } else if (auto* d = std::get_if<QueryDone>(&a)) {
          done.push_back(*d);
        } else if (auto* det = std::get_if<Detection>(&a)) {
          detections.push_back(*det);
        } else if (auto* iso = std::get_if<WorkerIsolated>(&a)) {
          isolated.push_back(*iso);
        }
      }
    }
  }
  QueryDone ask(QueryRequest r, Millis now) {
    const std::size_t before = done.size();
    head.submit(std::move(r), now);
    pump(now);
    if (done.size() == before) {
      const auto d = head.next_deadline();
      EXPECT_TRUE(d.has_value());
      if (d) {
        head.on_tick(*d);
        pump(*d);
      }
    }
    EXPECT_EQ(done.size(), before + 1);
    return done.size() > before ? done.back() : QueryDone{};
  }
};

QueryRequest numeric(std::string text, proto::Mode mode = proto::Mode::vote) {
  QueryRequest r;
  r.text = std::move(text);
  r.mode = mode;
  r.agreement = cc::AgreementRule::numeric;
  return r;
}

TEST(HeadLogic, DecidesAtQuorumAndChainsCertificates) {
  Harness h(4, 1);
  const QueryDone a = h.ask(numeric("What is 40+2?"), 10);
  ASSERT_TRUE(a.error.empty()) << a.error;
  EXPECT_EQ(a.outcome, core::Outcome::decided);
  EXPECT_EQ(a.sequence, 1U);
  EXPECT_EQ(cc::i64_from(a.fused_output, "fused").value(), 42'000'000);
  EXPECT_EQ(a.answer_text, "The answer is 42.");
  EXPECT_EQ(a.decided_at, 10U);  // no waiting for a deadline
  const Report r = verify_certificate(a.certificate, h.cluster.membership);
  ASSERT_TRUE(r.ok()) << r.first_failure()->name << ": " << r.first_failure()->detail;

  const QueryDone b = h.ask(numeric("What is 40+2?"), 20);
  EXPECT_EQ(b.sequence, 2U);
  EXPECT_NE(b.query_id, a.query_id);  // the same text twice: distinct queries
  auto cb = cc::decode_certificate(b.certificate);
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ(cb->previous_hash, a.certificate_hash);
  EXPECT_EQ(cb->query_id, b.query_id);
  EXPECT_EQ(h.head.status().next_sequence, 3U);
}

TEST(HeadLogic, InvalidSignatureIsDetectedAndNeverCounted) {
  Harness h(4, 1);
  h.deliver = {false, true, false, true};
  h.head.submit(numeric("What is 1+1?"), 0);
  h.pump(0);
  EXPECT_TRUE(h.done.empty());
  // Worker 0 signs with worker 1's key: the head checks `from`'s membership key.
  const auto& ask = h.asks.front().ask;
  auto forged = sign_answer(h.cluster.keys[1], 0, ask.query_id, 0, h.cluster.membership.digest, ask.agreement, 0,
                            cc::i64_bytes(2'000'000));
  ASSERT_TRUE(forged.ok());
  h.head.on_answer(0, proto::Answer{ask.query_id, 0, *forged, "42", {}}, 1);
  h.pump(1);
  EXPECT_TRUE(h.done.empty());  // the forged vote is not counted: still two of q = 3
  auto real = sign_answer(h.cluster.keys[2], 2, ask.query_id, 0, h.cluster.membership.digest, ask.agreement, 0,
                          cc::i64_bytes(42'000'000));
  ASSERT_TRUE(real.ok());
  h.head.on_answer(2, proto::Answer{ask.query_id, 0, *real, "42", {}}, 2);
  h.pump(2);
  ASSERT_EQ(h.done.size(), 1U);
  EXPECT_EQ(h.done[0].signers, 0b1110U);
  EXPECT_TRUE(std::any_of(h.detections.begin(), h.detections.end(),
                          [](const Detection& d) { return d.worker == 0 && d.kind == "invalid-signature"; }));
}

TEST(HeadLogic, EquivocationIsolatesAtOnceWithVerifiableEvidence) {
  // Worker 0 is asked first, so both its answers arrive before the quorum closes the round.
  Harness h(4, 1, {ByzantineKind::equivocate});
  const QueryDone a = h.ask(numeric("What is 2+2?"), 0);
  ASSERT_EQ(h.isolated.size(), 1U);
  EXPECT_EQ(h.isolated[0].worker, 0U);
  EXPECT_TRUE(verify_equivocation(h.isolated[0].evidence, h.cluster.membership).ok());
  EXPECT_EQ(a.outcome, core::Outcome::decided);
  EXPECT_EQ(a.equivocations.size(), 1U);
  EXPECT_TRUE(verify_certificate(a.certificate, h.cluster.membership).ok());
  h.asks.clear();
  h.ask(numeric("What is 3+3?"), 10);
  EXPECT_TRUE(std::none_of(h.asks.begin(), h.asks.end(), [](const SendAsk& s) { return s.worker == 0; }));
  EXPECT_TRUE(h.head.status().workers[0].reputation.isolated);
}

TEST(HeadLogic, EquivocationAfterTheDecisionStillIsolatesWithEvidence) {
  Harness h(4, 1);
  const QueryDone a = h.ask(numeric("What is 2+2?"), 0);
  ASSERT_EQ(a.outcome, core::Outcome::decided);
  EXPECT_TRUE(h.isolated.empty());
  // Worker 0 answered 42 before the decision; it now signs 7 for the same (query, round).
  auto second = sign_answer(h.cluster.keys[0], 0, a.query_id, 0, h.cluster.membership.digest,
                            cc::AgreementRule::numeric, 0, cc::i64_bytes(7'000'000));
  ASSERT_TRUE(second.ok());
  h.head.on_answer(0, proto::Answer{a.query_id, 0, *second, "7", {}}, 5);
  h.pump(5);
  ASSERT_EQ(h.isolated.size(), 1U);
  EXPECT_EQ(h.isolated[0].worker, 0U);
  EXPECT_EQ(h.isolated[0].late_after_sequence, a.sequence);
  EXPECT_TRUE(verify_equivocation(h.isolated[0].evidence, h.cluster.membership).ok());
  EXPECT_TRUE(h.head.status().workers[0].reputation.isolated);
  // The same answer again, or a worker that never answered, is only late: nothing happens.
  auto repeat = sign_answer(h.cluster.keys[2], 2, a.query_id, 0, h.cluster.membership.digest,
                            cc::AgreementRule::numeric, 0, cc::i64_bytes(42'000'000));
  ASSERT_TRUE(repeat.ok());
  h.head.on_answer(2, proto::Answer{a.query_id, 0, *repeat, "42", {}}, 6);
  h.pump(6);
  EXPECT_EQ(h.isolated.size(), 1U);
  // A forged late answer (worker 1 signing as worker 2) is a bad signature, not an equivocation.
  auto forged = sign_answer(h.cluster.keys[1], 2, a.query_id, 0, h.cluster.membership.digest,
                            cc::AgreementRule::numeric, 0, cc::i64_bytes(8'000'000));
  ASSERT_TRUE(forged.ok());
  h.head.on_answer(2, proto::Answer{a.query_id, 0, *forged, "8", {}}, 7);
  h.pump(7);
  EXPECT_EQ(h.isolated.size(), 1U);
  EXPECT_FALSE(h.head.status().workers[2].reputation.isolated);
  // Worker 3 had not answered before the decision; both its conflicting answers come late.
  auto late_a = sign_answer(h.cluster.keys[3], 3, a.query_id, 0, h.cluster.membership.digest,
                            cc::AgreementRule::numeric, 0, cc::i64_bytes(42'000'000));
  auto late_b = sign_answer(h.cluster.keys[3], 3, a.query_id, 0, h.cluster.membership.digest,
                            cc::AgreementRule::numeric, 0, cc::i64_bytes(9'000'000));
  ASSERT_TRUE(late_a.ok() && late_b.ok());
  h.head.on_answer(3, proto::Answer{a.query_id, 0, *late_a, "42", {}}, 8);
  h.pump(8);
  EXPECT_EQ(h.isolated.size(), 1U);  // one late answer is only late
  h.head.on_answer(3, proto::Answer{a.query_id, 0, *late_b, "9", {}}, 9);
  h.pump(9);
  ASSERT_EQ(h.isolated.size(), 2U);
  EXPECT_EQ(h.isolated[1].worker, 3U);
  EXPECT_TRUE(verify_equivocation(h.isolated[1].evidence, h.cluster.membership).ok());
}

TEST(HeadLogic, ReputationEventsFromTheCertificateMatchTheProducer) {
  Harness h(4, 1);
  h.texts[0] = "The answer is 7.";  // outside the decided cluster: disagree
  const QueryDone a = h.ask(numeric("What is 40+2?"), 0);
  ASSERT_EQ(a.outcome, core::Outcome::decided);
  auto c = cc::decode_certificate(a.certificate);
  ASSERT_TRUE(c.ok());
  const auto events = reputation_events(*c);
  ASSERT_EQ(events.size(), 4U);
  EXPECT_EQ(events[0], core::ReputationEvent::disagree);
  EXPECT_EQ(events[1], core::ReputationEvent::agree);
  EXPECT_EQ(events[3], core::ReputationEvent::agree);
  // The head applied exactly these to its start values.
  for (core::WorkerIndex w = 0; w < 4; ++w) {
    const auto rep = core::reputation_update({c->reputation[w].value, c->reputation[w].isolated}, *events[w]);
    EXPECT_EQ(h.head.status().workers[w].reputation.value, rep.value) << "worker " << w;
  }
}

TEST(HeadLogic, DisconnectsMidRoundFailClosedWithoutWaitingForTheDeadline) {
  Harness h(4, 1);
  h.deliver = {true, false, false, false};
  h.head.submit(numeric("What is 1+2?"), 0);
  h.pump(0);
  EXPECT_TRUE(h.done.empty());
  h.head.on_disconnected(1, 5);
  h.pump(5);
  EXPECT_TRUE(h.done.empty());  // 3 reachable = q: still possible
  h.head.on_disconnected(2, 6);
  h.pump(6);
  ASSERT_EQ(h.done.size(), 1U);
  EXPECT_EQ(h.done[0].outcome, core::Outcome::no_quorum);
  EXPECT_EQ(h.done[0].decided_at, 6U);
  EXPECT_TRUE(verify_certificate(h.done[0].certificate, h.cluster.membership).ok());
}

TEST(HeadLogic, DeadlineClosesTheRoundAndNamesTheSilent) {
  Harness h(4, 1, {ByzantineKind::none, ByzantineKind::silent, ByzantineKind::silent});
  const QueryDone d = h.ask(numeric("What is 5+5?"), 0);
  EXPECT_EQ(d.decided_at, 1000U);
  EXPECT_EQ(d.outcome, core::Outcome::no_quorum);
  EXPECT_EQ(std::count_if(h.detections.begin(), h.detections.end(),
                          [](const Detection& x) { return x.kind == "timeout"; }),
            2);
}

TEST(HeadLogic, DebateRoundsShowAnonymisedAnswers) {
  Harness h(4, 1);
  h.texts = {"The answer is 1.", "The answer is 1.", "The answer is 2.", "The answer is 2."};
  const QueryDone d = h.ask(numeric("What is x?", proto::Mode::debate), 0);
  EXPECT_EQ(d.outcome, core::Outcome::no_consensus);
  EXPECT_EQ(d.rounds, 3U);
  const auto debate = std::find_if(h.asks.begin(), h.asks.end(), [](const SendAsk& s) { return s.ask.round == 1; });
  ASSERT_NE(debate, h.asks.end());
  EXPECT_NE(debate->ask.prompt.find("Answer A (2 of 4): The answer is"), std::string::npos) << debate->ask.prompt;
  EXPECT_NE(debate->ask.prompt.find("Answer B"), std::string::npos);
  EXPECT_EQ(debate->ask.prompt.find("w0"), std::string::npos);
  EXPECT_TRUE(verify_certificate(d.certificate, h.cluster.membership).ok());
  // Vote mode never debates.
  const QueryDone v = h.ask(numeric("What is x?"), 5000);
  EXPECT_EQ(v.rounds, 1U);
  EXPECT_EQ(v.outcome, core::Outcome::no_consensus);
}

// A round closes while its query debates on; a worker's second, different signed answer for that
// closed round still convicts it (spec/consensus.md "Equivocation"), and the evidence is kept with
// the query's certificate.
TEST(HeadLogic, EquivocationForAClosedRoundOfADebatingQueryIsolates) {
  Harness h(4, 1);
  h.texts = {"The answer is 1.", "The answer is 1.", "The answer is 2.", "The answer is 1."};
  h.deliver[3] = false;  // worker 3 stays silent, so each round waits for its deadline
  const QueryHandle handle = h.head.submit(numeric("What is x?", proto::Mode::debate), 0);
  (void)handle;
  h.pump(0);
  ASSERT_TRUE(h.done.empty());
  auto deadline = h.head.next_deadline();
  ASSERT_TRUE(deadline.has_value());
  h.head.on_tick(*deadline);  // round 0 ends without a quorum (2 + 1 of 4): debate round 1
  h.pump(*deadline);
  ASSERT_TRUE(h.done.empty());
  const auto round1 = std::find_if(h.asks.begin(), h.asks.end(), [](const SendAsk& s) { return s.ask.round == 1; });
  ASSERT_NE(round1, h.asks.end());
  const Digest query_id = round1->ask.query_id;
  const Millis now = *deadline + 1;
  // Worker 2 answered 2 in round 0; now it signs 3 for round 0.
  auto second = sign_answer(h.cluster.keys[2], 2, query_id, 0, h.cluster.membership.digest, cc::AgreementRule::numeric,
                            0, cc::i64_bytes(3'000'000));
  ASSERT_TRUE(second.ok());
  h.head.on_answer(2, proto::Answer{query_id, 0, *second, "3", {}}, now);
  h.pump(now);
  ASSERT_EQ(h.isolated.size(), 1U);
  EXPECT_EQ(h.isolated[0].worker, 2U);
  EXPECT_EQ(h.isolated[0].late_after_sequence, 0U);
  EXPECT_NE(h.isolated[0].reason.find("after that round closed"), std::string::npos) << h.isolated[0].reason;
  EXPECT_TRUE(verify_equivocation(h.isolated[0].evidence, h.cluster.membership).ok());
  EXPECT_TRUE(h.head.status().workers[2].reputation.isolated);
  // Worker 1's same answer again is a duplicate; worker 3 had not answered round 0: its first
  // late answer is only kept, its second, different one convicts it.
  auto repeat = sign_answer(h.cluster.keys[1], 1, query_id, 0, h.cluster.membership.digest, cc::AgreementRule::numeric,
                            0, cc::i64_bytes(1'000'000));
  auto late_a = sign_answer(h.cluster.keys[3], 3, query_id, 0, h.cluster.membership.digest, cc::AgreementRule::numeric,
                            0, cc::i64_bytes(1'000'000));
  auto late_b = sign_answer(h.cluster.keys[3], 3, query_id, 0, h.cluster.membership.digest, cc::AgreementRule::numeric,
                            0, cc::i64_bytes(5'000'000));
  ASSERT_TRUE(repeat.ok() && late_a.ok() && late_b.ok());
  h.head.on_answer(1, proto::Answer{query_id, 0, *repeat, "1", {}}, now + 1);
  h.head.on_answer(3, proto::Answer{query_id, 0, *late_a, "1", {}}, now + 2);
  h.pump(now + 2);
  EXPECT_EQ(h.isolated.size(), 1U);
  h.head.on_answer(3, proto::Answer{query_id, 0, *late_b, "5", {}}, now + 3);
  h.pump(now + 3);
  ASSERT_EQ(h.isolated.size(), 2U);
  EXPECT_EQ(h.isolated[1].worker, 3U);
  // The query ends (no quorum is left: two of four isolated) with both records beside its certificate.
  for (int guard = 0; guard < 10 && h.done.empty(); ++guard) {
    deadline = h.head.next_deadline();
    if (!deadline) break;
    h.head.on_tick(*deadline);
    h.pump(*deadline);
  }
  ASSERT_EQ(h.done.size(), 1U);
  EXPECT_NE(h.done[0].outcome, core::Outcome::decided);
  EXPECT_TRUE(verify_certificate(h.done[0].certificate, h.cluster.membership).ok());
  ASSERT_GE(h.done[0].equivocations.size(), 2U);
  std::size_t verified = 0;
  for (const auto& e : h.done[0].equivocations) verified += verify_equivocation(e, h.cluster.membership).ok() ? 1 : 0;
  EXPECT_EQ(verified, h.done[0].equivocations.size());
}

TEST(HeadLogic, ConfigurationErrorsSayWhatToChange) {
  const TestCluster c = make_cluster(4, 1);
  HeadConfig h = Harness::config(c, 1000);
  h.rounds_max = 0;
  auto bad = check_head_config(h);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("rounds_max"), std::string::npos);
  h = Harness::config(c, 1000);
  h.head_key = c.keys[0];
  EXPECT_FALSE(check_head_config(h).ok());
}

// The HTTP API's "task_checks" reach the certificate through QueryRequest, in order, signed by the
// head; more than core::cert::task_checks_max gets no certificate and leaves the chain alone.
TEST(HeadLogic, TaskChecksAreSignedIntoTheCertificate) {
  Harness h(4, 1);
  QueryRequest r = numeric("What is 40+2?");
  const std::vector<cc::TaskCheck> checks = {
      {cc::TaskKind::z3_smtlib, cc::TaskExpect::unsat, "(assert false)\n(check-sat)\n"},
      {cc::TaskKind::z3_smtlib, cc::TaskExpect::sat, "(declare-const x Int)\n(assert (= x 42))\n(check-sat)\n"}};
  r.task_checks = checks;
  const QueryDone d = h.ask(std::move(r), 10);
  ASSERT_TRUE(d.error.empty()) << d.error;
  auto c = cc::decode_certificate(d.certificate);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->tasks, checks);
  const Report report = verify_certificate(d.certificate, h.cluster.membership);
  ASSERT_TRUE(report.ok()) << report.first_failure()->name << ": " << report.first_failure()->detail;

  QueryRequest too_many = numeric("What is 40+2?");
  too_many.task_checks.assign(cc::task_checks_max + 1, checks[0]);
  const QueryDone refused = h.ask(std::move(too_many), 20);
  EXPECT_FALSE(refused.error.empty());
  EXPECT_TRUE(refused.certificate.empty());
  EXPECT_EQ(h.head.status().next_sequence, 2U);
}

}  // namespace
}  // namespace bf::runtime
