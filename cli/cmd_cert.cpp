// butterfly key / membership / cert / log: Ed25519 keys, membership files, and the offline auditor
// (spec/certificate.md, spec/membership.md). The auditor trusts only the membership file; it reads
// no network and no clock.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "runtime/auditor.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/producer.hpp"
#include "verified/obligations.hpp"
#include "verified/task_check.hpp"

namespace bf::cli {
namespace {

namespace rt = runtime;
namespace cc = core::cert;

[[noreturn]] void input_error(const std::string& command, const std::string& message) {
  std::cerr << "butterfly " << command << ": " << message << "\n";
  throw Exit{exit_usage};
}

// A public key given as 64 hex digits or as a key file (its public half is derived).
cc::PublicKey public_key_arg(const std::string& command, const std::string& text) {
  if (text.size() == 64 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    return *rt::hex32(text, "public key");
  }
  auto k = rt::read_key_file(text);
  if (!k) {
    input_error(command, k.error().message + "\n(give a 64-hex-digit public key or a key file from "
                                             "'butterfly key generate')");
  }
  if (!k->warning.empty()) std::cerr << "butterfly " << command << ": warning: " << k->warning << "\n";
  return k->key.public_key;
}

rt::Membership membership_arg(const std::string& command, const std::string& path) {
  auto m = rt::read_membership_file(path);
  if (!m) input_error(command, m.error().message);
  return std::move(m.value());
}

rt::VerifyOptions verify_options(const std::string& command, const std::string& manifest) {
  rt::VerifyOptions o;
  if (!manifest.empty()) {
    auto m = rt::read_manifest(manifest);
    if (!m) input_error(command, m.error().message);
    o.manifest = std::move(m.value());
  }
  return o;
}

void print_checks(const rt::Report& r, const std::string& indent) {
  const Style& st = style();
  for (const auto& c : r.checks) {
    const std::string state = rt::check_state_name(c.state);
    if (st.screen_reader) {  // a sentence per check, the name first
      std::cout << "Check " << c.name << ": " << state << (c.detail.empty() ? "" : ", " + c.detail) << ".\n";
      continue;
    }
    std::cout << indent
              << (c.state == rt::CheckState::fail ? st.bad(state)
                  : c.state == rt::CheckState::pass ? st.good(state)
                                                    : st.dim(state))
              << " " << c.name << ": " << c.detail << "\n";
  }
}

// ---- key ----

int run_key_generate(const std::string& out, bool json) {
  auto k = rt::generate_key_file(out);
  if (!k) input_error("key generate", k.error().message);
  const std::string pk = rt::hex(k->public_key);
  if (json) {
    std::cout << nlohmann::json{{"public_key", pk}, {"file", out}, {"mode", "0600"}}.dump(2) << "\n";
  } else {
    std::cout << "Public key: " << pk << "\nSecret key written to " << out
              << " (mode 0600). Keep it private; butterfly never prints it.\n";
  }
  return exit_ok;
}

int run_key_show(const std::string& file, bool json) {
  auto k = rt::read_key_file(file);
  if (!k) input_error("key show", k.error().message);
  if (!k->warning.empty()) std::cerr << "butterfly key show: warning: " << k->warning << "\n";
  const std::string pk = rt::hex(k->key.public_key);
  if (json) {
    std::cout << nlohmann::json{{"public_key", pk}, {"file", file}}.dump(2) << "\n";
  } else {
    std::cout << "Public key: " << pk << "\n";
  }
  return exit_ok;
}

// ---- membership ----

struct MembershipOptions {
  std::vector<std::string> workers;  // ID=KEY
  std::string head;
  std::string cluster = "butterfly";
  std::uint64_t epoch = 1;
  std::uint32_t f = 0;
  std::string out;
  bool json = false;
};

void print_membership(const rt::Membership& m, bool json) {
  if (json) {
    std::cout << rt::membership_json(m).dump(2) << "\n";
    return;
  }
  const auto& r = m.record;
  std::cout << "Membership " << r.cluster_id << ", epoch " << r.epoch << ": n = " << r.n << ", f = " << r.f
            << ", quorum q = " << r.q << " (safe rule).\nDigest: " << rt::hex(m.digest)
            << "\nHead public key: " << rt::hex(r.head_key) << "\n";
  for (std::size_t i = 0; i < r.workers.size(); ++i) {
    std::cout << "  worker " << i << " " << r.workers[i].id << ": " << rt::hex(r.workers[i].key) << "\n";
  }
}

int run_membership_create(const MembershipOptions& opt) {
  const std::string cmd = "membership create";
  std::vector<cc::MemberKey> workers;
  for (const auto& w : opt.workers) {
    const auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0) {
      input_error(cmd, "expected --worker ID=KEY, got '" + w + "'; for example --worker alpha=alpha.key");
    }
    workers.push_back({w.substr(0, eq), public_key_arg(cmd, w.substr(eq + 1))});
  }
  auto m = rt::make_membership_record(opt.cluster, opt.epoch, opt.f, public_key_arg(cmd, opt.head), workers);
  if (!m) input_error(cmd, m.error().message);
  const std::string text = rt::membership_json(*m).dump(2) + "\n";
  if (auto st = rt::write_new_file(opt.out, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                                   0644, "membership file");
      !st) {
    input_error(cmd, st.error().message);
  }
  if (opt.json) {
    std::cout << rt::membership_json(*m).dump(2) << "\n";
  } else {
    std::cout << "Wrote " << opt.out << ".\n";
    print_membership(*m, false);
  }
  return exit_ok;
}

int run_membership_change(const std::string& from, const std::string& to, const std::string& head_key,
                          const std::string& out) {
  const std::string cmd = "membership change";
  const rt::Membership old_m = membership_arg(cmd, from);
  const rt::Membership new_m = membership_arg(cmd, to);
  auto k = rt::read_key_file(head_key);
  if (!k) input_error(cmd, k.error().message);
  if (!k->warning.empty()) std::cerr << "butterfly " << cmd << ": warning: " << k->warning << "\n";
  auto bytes = rt::make_membership_transition(old_m, new_m, k->key);
  if (!bytes) input_error(cmd, bytes.error().message);
  if (auto st = rt::write_new_file(out, *bytes, 0644, "membership transition"); !st) input_error(cmd, st.error().message);
  std::cout << "Wrote " << out << ": " << old_m.record.cluster_id << " epoch " << old_m.record.epoch << " ("
            << rt::hex(old_m.digest).substr(0, 16) << "...) -> epoch " << new_m.record.epoch << " ("
            << rt::hex(new_m.digest).substr(0, 16) << "...), signed by the old head key.\n";
  return exit_ok;
}

int run_membership_verify_change(const std::string& from, const std::string& file) {
  const std::string cmd = "membership verify-change";
  const rt::Membership old_m = membership_arg(cmd, from);
  auto bytes = rt::read_file(file, cc::membership_transition_bytes_max, "membership transition");
  if (!bytes) input_error(cmd, bytes.error().message);
  const rt::Report r = rt::verify_membership_transition(*bytes, old_m);
  std::cout << "Membership transition " << file << "\n";
  print_checks(r, "");
  const Style& st = style();
  if (r.ok()) {
    auto t = cc::decode_membership_transition(*bytes);
    auto next = cc::encode_membership(t->next);
    std::cout << "Verdict: " << st.good("PASS") << ": epoch " << old_m.record.epoch << " -> " << t->next.epoch
              << "; new membership digest " << rt::hex(rt::blake2b(*next)) << "\n";
  } else {
    std::cout << "Verdict: " << st.bad("FAIL") << ": the " << r.first_failure()->name
              << " check failed; do not trust this membership change\n";
  }
  return r.ok() ? exit_ok : exit_failed;
}

// ---- cert ----

// --z3: run each task check the certificate carries with Z3 and compare with its expected result.
// The decoder already bounded and checked the text; the head signature covers it.
void add_task_checks(rt::Report& r) {
  const auto& tasks = r.certificate->tasks;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const cc::TaskCheck& t = tasks[i];
    const std::string name = "task " + std::to_string(i);
    const std::string expected = cc::task_expect_name(t.expected);
    const verified::TaskRun run = verified::run_smtlib_task(t.text);
    const std::string got = verified::task_outcome_name(run.outcome);
    if (run.outcome == verified::TaskOutcome::error || run.outcome == verified::TaskOutcome::unknown) {
      r.checks.push_back({name, rt::CheckState::fail,
                          std::string(cc::task_kind_name(t.kind)) + ": Z3 gave " + got + " (" + run.detail +
                              "), the certificate expects " + expected});
    } else if (got != expected) {
      r.checks.push_back({name, rt::CheckState::fail,
                          std::string(cc::task_kind_name(t.kind)) + ": Z3 says " + got +
                              " but the certificate expects " + expected});
    } else {
      r.checks.push_back({name, rt::CheckState::pass,
                          std::string(cc::task_kind_name(t.kind)) + ": Z3 says " + got + ", as the certificate expects"});
    }
  }
}

// --z3: regenerate each obligation the certificate names from this binary's verified/ code, check
// its SMT-LIB text is the one whose sha256 the certificate carries, and solve it again.
void add_z3_checks(rt::Report& r) {
  if (!r.certificate) return;
  if (r.certificate->invariants.empty()) {
    r.checks.push_back({"z3", rt::CheckState::skip, "the certificate names no invariants"});
  }
  for (const auto& inv : r.certificate->invariants) {
    const std::string name = "z3 " + inv.id;
    verified::ObligationResult o;
    try {
      o = verified::check(inv.id);
    } catch (const std::invalid_argument& e) {
      r.checks.push_back({name, rt::CheckState::fail, e.what()});
      continue;
    }
    const auto* text = reinterpret_cast<const std::uint8_t*>(o.smt2.data());
    const rt::Digest digest = rt::sha256({text, o.smt2.size()});
    if (digest != inv.proof_sha256) {
      r.checks.push_back({name, rt::CheckState::fail,
                          "this build's obligation has sha256 " + rt::hex(digest).substr(0, 16) +
                              "..., the certificate relied on " + rt::hex(inv.proof_sha256).substr(0, 16) +
                              "...: a different proof"});
    } else if (o.verdict != verified::Verdict::proved) {
      r.checks.push_back({name, rt::CheckState::fail,
                          std::string(verified::verdict_name(o.verdict)) + ": " + o.counterexample});
    } else {
      r.checks.push_back({name, rt::CheckState::pass, o.name + " PROVED again; digest matches"});
    }
  }
  add_task_checks(r);
}

int run_cert_verify(const std::string& file, const std::string& membership, const std::string& manifest,
                    bool json, bool z3) {
  const std::string cmd = "cert verify";
  const rt::Membership m = membership_arg(cmd, membership);
  const rt::VerifyOptions o = verify_options(cmd, manifest);
  auto bytes = rt::read_file(file, cc::record_bytes_max, "certificate");
  if (!bytes) input_error(cmd, bytes.error().message);
  const bool evidence = bytes->size() >= 4 && std::equal(bytes->begin(), bytes->begin() + 4, "BFEQ");
  rt::Report r = evidence ? rt::verify_equivocation(*bytes, m) : rt::verify_certificate(*bytes, m, o);
  if (z3 && !evidence) add_z3_checks(r);
  if (json) {
    auto j = rt::report_json(r);
    j["file"] = file;
    j["kind"] = evidence ? "equivocation" : "certificate";
    std::cout << j.dump(2) << "\n";
    return r.ok() ? exit_ok : exit_failed;
  }
  const Style& st = style();
  // Screen readers hear the verdict first, then the checks.
  if (!st.screen_reader) {
    std::cout << (evidence ? "Equivocation record " : "Certificate ") << file << "\n";
    print_checks(r, "");
  }
  if (r.ok()) {
    std::cout << "Verdict: " << st.good("PASS") << ": every check passed"
              << (r.certificate ? std::string(" (") + core::outcome_name(r.certificate->outcome) + ")" : "")
              << "; hash " << rt::hex(r.hash) << "\n";
  } else {
    std::cout << "Verdict: " << st.bad("FAIL") << ": the " << r.first_failure()->name
              << " check failed; do not trust this " << (evidence ? "record" : "certificate") << "\n";
  }
  if (st.screen_reader) {
    std::cout << (evidence ? "Equivocation record " : "Certificate ") << file << ".\n";
    print_checks(r, "");
  }
  return r.ok() ? exit_ok : exit_failed;
}

int run_cert_show(const std::string& file) {
  auto bytes = rt::read_file(file, cc::record_bytes_max, "certificate");
  if (!bytes) input_error("cert show", bytes.error().message);
  if (bytes->size() >= 4 && std::equal(bytes->begin(), bytes->begin() + 4, "BFEQ")) {
    auto e = cc::decode_equivocation(*bytes);
    if (!e) input_error("cert show", file + ": " + e.error().message);
    std::cout << rt::equivocation_json(*e).dump(2) << "\n";
    return exit_ok;
  }
  auto c = cc::decode_certificate(*bytes);
  if (!c) input_error("cert show", file + ": " + c.error().message);
  std::cout << rt::certificate_json(*c, rt::blake2b(*bytes)).dump(2) << "\n";
  return exit_ok;
}

int run_log_verify(const std::string& dir, const std::string& membership, const std::string& manifest,
                   bool json) {
  const std::string cmd = "log verify";
  const rt::Membership m = membership_arg(cmd, membership);
  const rt::VerifyOptions o = verify_options(cmd, manifest);
  auto log = rt::verify_log(dir, m, o);
  if (!log) input_error(cmd, log.error().message);
  if (json) {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& e : log->entries) {
      auto j = rt::report_json(e.report);
      j["file"] = e.file;
      entries.push_back(j);
    }
    nlohmann::json out = {{"verdict", log->ok() ? "PASS" : "FAIL"}, {"entries", entries}};
    if (log->broken) out["first_broken"] = *log->broken;
    std::cout << out.dump(2) << "\n";
    return log->ok() ? exit_ok : exit_failed;
  }
  const Style& st = style();
  auto entries = [&] {
    for (const auto& e : log->entries) {
      std::cout << (e.report.ok() ? st.good("PASS") : st.bad("FAIL")) << " " << e.file;
      if (const auto* f = e.report.first_failure()) std::cout << ": " << f->name << ": " << f->detail;
      std::cout << (st.screen_reader ? ".\n" : "\n");
    }
  };
  if (!st.screen_reader) entries();  // screen readers hear the verdict first
  if (log->ok()) {
    std::cout << "Verdict: " << st.good("PASS") << ": " << log->entries.size()
              << " files verify and the hash chain is unbroken\n";
  } else {
    std::cout << "Verdict: " << st.bad("FAIL") << ": first broken link: " << *log->broken << "\n";
  }
  if (st.screen_reader) entries();
  return log->ok() ? exit_ok : exit_failed;
}

}  // namespace

void add_cert_commands(CLI::App& app) {
  // key
  CLI::App* key = app.add_subcommand("key", "Ed25519 keys for workers and heads");
  key->require_subcommand(1);
  {
    auto out = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* gen = key->add_subcommand("generate", "Create a secret key file (mode 0600) and print its public key");
    gen->add_option("--out", *out, "The new key file; an existing file is never overwritten")->required();
    gen->add_flag("--json", *json, "Machine-readable output");
    gen->footer("Examples:\n  butterfly key generate --out alpha.key\n  butterfly key generate --out head.key --json");
    gen->callback([=] { action() = [=] { return run_key_generate(*out, *json); }; });
  }
  {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* show = key->add_subcommand("show", "Print a key file's public key (never the secret)");
    show->add_option("FILE", *file, "A key file from 'butterfly key generate'")->required();
    show->add_flag("--json", *json, "Machine-readable output");
    show->footer("Examples:\n  butterfly key show alpha.key\n  butterfly key show head.key --json");
    show->callback([=] { action() = [=] { return run_key_show(*file, *json); }; });
  }

  // membership
  CLI::App* mem = app.add_subcommand("membership", "Membership files: who may sign for a consensus group");
  mem->require_subcommand(1);
  {
    auto opt = std::make_shared<MembershipOptions>();
    CLI::App* create = mem->add_subcommand("create", "Write a membership file from workers' and the head's keys");
    create->add_option("--worker", opt->workers, "ID=KEY, KEY a key file or 64 hex digits (repeat per worker)")
        ->required();
    create->add_option("--head-key", opt->head, "The head's key file or public key (64 hex digits)")->required();
    create->add_option("--f", opt->f, "Byzantine workers tolerated (3f < n)")->required();
    create->add_option("--cluster", opt->cluster, "Cluster id (default butterfly)");
    create->add_option("--epoch", opt->epoch, "Epoch, >= 1 (default 1)")->check(CLI::PositiveNumber);
    create->add_option("--out", opt->out, "The new membership file; never overwritten")->required();
    create->add_flag("--json", opt->json, "Print the membership as JSON");
    create->footer(
        "Examples:\n"
        "  butterfly membership create --worker alpha=alpha.key --worker bravo=bravo.key \\\n"
        "      --worker charlie=charlie.key --worker delta=delta.key --head-key head.key --f 1 \\\n"
        "      --out membership.json");
    create->callback([opt] { action() = [opt] { return run_membership_create(*opt); }; });
  }
  {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* show = mem->add_subcommand("show", "Check a membership file and print it with its digest");
    show->add_option("FILE", *file, "A membership file")->required();
    show->add_flag("--json", *json, "Machine-readable output");
    show->footer("Examples:\n  butterfly membership show membership.json\n  butterfly membership show membership.json --json");
    show->callback([=] {
      action() = [=] {
        print_membership(membership_arg("membership show", *file), *json);
        return exit_ok;
      };
    });
  }

  {
    auto from = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto head = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    CLI::App* change = mem->add_subcommand(
        "change", "Write a membership transition: the old head signs the new epoch's membership");
    change->add_option("--from", *from, "The membership in force (old epoch)")->required();
    change->add_option("--to", *to, "The new membership file (same cluster, larger epoch)")->required();
    change->add_option("--head-key", *head, "The OLD membership's head key file")->required();
    change->add_option("--out", *out, "The new transition file; never overwritten")->required();
    change->footer(
        "Refuses when the new epoch is not larger, the cluster id differs, the key is not the old\n"
        "head's, or the output file exists.\n"
        "Examples:\n"
        "  butterfly membership change --from membership.json --to membership-2.json \\\n"
        "      --head-key head.key --out epoch-2.transition");
    change->callback([=] { action() = [=] { return run_membership_change(*from, *to, *head, *out); }; });
  }
  {
    auto from = std::make_shared<std::string>();
    auto file = std::make_shared<std::string>();
    CLI::App* vc = mem->add_subcommand(
        "verify-change", "Check a membership transition against the old membership: PASS or FAIL");
    vc->add_option("OLD", *from, "The old membership file")->required();
    vc->add_option("FILE", *file, "A transition file from 'butterfly membership change'")->required();
    vc->footer(
        "Exit status 0 when every check passes, 1 when one fails, 2 when a file cannot be read.\n"
        "Examples:\n"
        "  butterfly membership verify-change membership.json epoch-2.transition");
    vc->callback([=] { action() = [=] { return run_membership_verify_change(*from, *file); }; });
  }

  // cert
  CLI::App* cert = app.add_subcommand("cert", "Certificates: verify offline, show as JSON");
  cert->require_subcommand(1);
  {
    auto file = std::make_shared<std::string>();
    auto membership = std::make_shared<std::string>();
    auto manifest = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    auto z3 = std::make_shared<bool>(false);
    CLI::App* verify = cert->add_subcommand(
        "verify", "Re-check a certificate or equivocation record trusting only the membership file");
    verify->add_option("FILE", *file, "A .cert or .equivocation file")->required();
    verify->add_option("--membership", *membership, "The membership file it was decided under")->required();
    verify->add_option("--manifest", *manifest, "proofs/MANIFEST, to check the proof digests the certificate names");
    verify->add_flag("--json", *json, "Machine-readable output");
    verify->add_flag("--z3", *z3,
                     "Also regenerate and solve each Z3 obligation the certificate names, and match "
                     "its sha256 (about a minute for all of them), and run each task check with Z3 "
                     "against its expected result (one 'task <i>' line each)");
    verify->footer(
        "One line per check (PASS, FAIL with the reason, SKIP), then the verdict.\n"
        "Exit status 0 when every check passes, 1 when one fails, 2 when a file cannot be read.\n"
        "Examples:\n"
        "  butterfly cert verify log/000001.cert --membership membership.json\n"
        "  butterfly cert verify log/000001.cert --membership membership.json --manifest proofs/MANIFEST --json\n"
        "  butterfly cert verify log/000001.cert --membership membership.json --z3");
    verify->callback(
        [=] { action() = [=] { return run_cert_verify(*file, *membership, *manifest, *json, *z3); }; });
  }
  {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(true);
    CLI::App* show = cert->add_subcommand("show", "Print a certificate or equivocation record as JSON (not verified)");
    show->add_option("FILE", *file, "A .cert or .equivocation file")->required();
    show->add_flag("--json", *json, "JSON output (the only form; accepted for uniformity)");
    show->footer("Examples:\n  butterfly cert show log/000001.cert\n  butterfly cert show log/000003.equivocation");
    show->callback([=] { action() = [=] { return run_cert_show(*file); }; });
  }

  // log
  CLI::App* log = app.add_subcommand("log", "Certificate logs: the head's hash chain");
  log->require_subcommand(1);
  {
    auto dir = std::make_shared<std::string>();
    auto membership = std::make_shared<std::string>();
    auto manifest = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* verify = log->add_subcommand(
        "verify", "Verify every *.cert (in name order) and *.equivocation file in DIR and the hash chain");
    verify->add_option("DIR", *dir, "A log directory (000001.cert, 000002.cert, ...)")->required();
    verify->add_option("--membership", *membership, "The membership file")->required();
    verify->add_option("--manifest", *manifest, "proofs/MANIFEST, to check proof digests");
    verify->add_flag("--json", *json, "Machine-readable output");
    verify->footer(
        "Reports the first broken link: a removed, reordered, replaced or altered certificate.\n"
        "Membership changes: each *.transition file in DIR (signed by the head of the membership it\n"
        "leaves) moves the audit to the next epoch; start from the first epoch's membership file.\n"
        "Exit status 0 when all verify, 1 otherwise, 2 when the directory cannot be read.\n"
        "Examples:\n"
        "  butterfly log verify log --membership membership.json\n"
        "  butterfly log verify log --membership membership.json --json");
    verify->callback([=] { action() = [=] { return run_log_verify(*dir, *membership, *manifest, *json); }; });
  }
}

}  // namespace bf::cli
