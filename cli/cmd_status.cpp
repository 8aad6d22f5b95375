// butterfly status: everything a local cluster remembers, with nothing hidden. It reads the cluster
// directory `butterfly cluster start` wrote (cluster.json, membership.json, keys/, logs/, log/)
// and, when the head is up, its GET /v1/status. Public key parts only; secret seeds never leave
// their files.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli.hpp"
#include "core/certificate.hpp"
#include "core/reputation.hpp"
#include "runtime/auditor.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"

namespace bf::cli {
namespace {

namespace rt = runtime;
namespace fs = std::filesystem;
using nlohmann::json;

inline constexpr std::size_t cluster_json_bytes_max = 1u << 20;
inline constexpr std::size_t directory_entries_max = 100'000;  // runtime/auditor's log_files_max
inline constexpr std::uint32_t head_timeout_ms = 2000;

[[noreturn]] void fail(const std::string& message, int code) {
  std::cerr << "butterfly status: " << message << "\n";
  throw Exit{code};
}

bool pid_alive(long pid) {
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';  // zombie: gone
}

json process_json(const json& entry) {
  const long pid = entry.value("pid", 0L);
  return {{"pid", pid}, {"alive", pid_alive(pid)}, {"log", entry.value("log", std::string{})}};
}

// Files in the certificate log by kind, and the last certificate decoded.
json log_json(const fs::path& dir) {
  json out = {{"dir", dir.string()}, {"certificates", 0}, {"equivocations", 0}, {"transitions", 0}};
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    out["note"] = "no log directory";
    return out;
  }
  std::vector<fs::path> certs;
  std::size_t equivocations = 0, transitions = 0, seen = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (++seen > directory_entries_max) {
      out["note"] = "more than " + std::to_string(directory_entries_max) + " files; counted the first";
      break;
    }
    const auto ext = it->path().extension();
    if (ext == ".cert") certs.push_back(it->path());
    if (ext == ".equivocation") ++equivocations;
    if (ext == ".transition") ++transitions;
  }
  out["certificates"] = certs.size();
  out["equivocations"] = equivocations;
  out["transitions"] = transitions;
  if (certs.empty()) return out;
  const fs::path last = *std::max_element(certs.begin(), certs.end());
  json cert = {{"file", last.string()}};
  auto bytes = rt::read_file(last, core::cert::record_bytes_max, "certificate");
  if (!bytes) {
    cert["error"] = bytes.error().message;
  } else if (auto c = core::cert::decode_certificate(*bytes); !c) {
    cert["error"] = c.error().message;
  } else {
    cert["sequence"] = c->sequence;
    cert["outcome"] = core::outcome_name(c->outcome);
    cert["rounds"] = c->rounds.size();
    cert["hash"] = rt::hex(rt::blake2b(*bytes));
    json reputation = json::array();
    // Millionths in the certificate (core/reputation.hpp); 0..1 like the head's /v1/status.
    for (const auto& s : c->reputation) {
      reputation.push_back({{"value", static_cast<double>(s.value) / core::ReputationParams::one}, {"isolated", s.isolated}});
    }
    cert["reputation_snapshot"] = reputation;
  }
  out["last_certificate"] = cert;
  return out;
}

// The key file's public part and whether it is the key the membership names: a key file replaced
// after `cluster start` would otherwise be hidden state that only shows as failed handshakes.
json key_json(const fs::path& file, const rt::PublicKey* expected) {
  json out = {{"file", file.string()}};
  auto key = rt::read_key_file(file);
  if (!key) {
    out["error"] = key.error().message;
    return out;
  }
  out["public_key"] = rt::hex(key->key.public_key);
  if (expected != nullptr) out["matches_membership"] = key->key.public_key == *expected;
  if (!key->warning.empty()) out["warning"] = key->warning;
  return out;
}

json collect(const std::string& dir_text) {
  const fs::path dir = fs::absolute(dir_text);
  auto raw = rt::read_file(dir / "cluster.json", cluster_json_bytes_max, "cluster.json");
  if (!raw) {
    fail(raw.error().message + ". No cluster has been started in " + dir.string() +
             "; start one with 'butterfly cluster start --dir " + dir_text + "' or name another with --dir.",
         exit_usage);
  }
  const json cluster = json::parse(raw->begin(), raw->end(), nullptr, false);
  if (cluster.is_discarded() || !cluster.is_object()) {
    fail((dir / "cluster.json").string() + " is not a JSON object; was it edited? 'butterfly cluster start --dir " +
             dir_text + "' writes a new one.",
         exit_usage);
  }
  json out = {{"dir", dir.string()},
              {"http", cluster.value("http", std::string{})},
              {"model", cluster.value("model", std::string{})},
              {"n", cluster.value("n", 0)},
              {"f", cluster.value("f", 0)}};
  out["head"] = process_json(cluster.value("head", json::object()));
  out["head"]["public_key"] = nullptr;

  // Membership: the identities the certificates are checked against.
  const std::string membership_path = cluster.value("membership", (dir / "membership.json").string());
  auto membership = rt::read_membership_file(membership_path);
  if (membership) {
    out["membership"] = {{"file", membership_path},
                         {"cluster_id", membership->record.cluster_id},
                         {"epoch", membership->record.epoch},
                         {"digest", rt::hex(membership->digest)},
                         {"head_public_key", rt::hex(membership->record.head_key)}};
  } else {
    out["membership"] = {{"file", membership_path}, {"error", membership.error().message}};
  }
  out["head"]["public_key"] = membership ? json(rt::hex(membership->record.head_key)) : json(nullptr);
  out["head"]["key"] = key_json(dir / "keys" / "head.key", membership ? &membership->record.head_key : nullptr);

  // Workers: the process, its key's public part, and the head's view when it answers.
  const std::string http = cluster.value("http", std::string{});
  json head_view = nullptr;
  if (!http.empty() && out["head"]["alive"].get<bool>()) {
    const auto r = http_request(http, false, "/v1/status", "", head_timeout_ms);
    if (r.ok && r.status == 200) {
      auto j = json::parse(r.body, nullptr, false);
      if (!j.is_discarded() && j.is_object()) head_view = std::move(j);
    }
    if (head_view.is_null()) out["head"]["http_error"] = r.ok ? "HTTP " + std::to_string(r.status) : r.body;
  }
  out["head"]["answering"] = !head_view.is_null();
  json workers = json::array();
  std::size_t index = 0;
  for (const auto& w : cluster.value("workers", json::array())) {
    const std::string id = w.value("id", std::string{});
    json entry = process_json(w);
    entry["index"] = index;
    entry["name"] = phonetic_name(index);
    entry["id"] = id;
    entry["address"] = w.value("address", std::string{});
    entry["byzantine"] = w.value("byzantine", std::string("none"));
    entry["specialist"] = w.value("specialist", std::string{});
    const bool listed = membership && index < membership->record.workers.size() && membership->record.workers[index].id == id;
    entry["key"] = key_json(dir / "keys" / (id + ".key"), listed ? &membership->record.workers[index].key : nullptr);
    if (listed) entry["public_key"] = rt::hex(membership->record.workers[index].key);
    if (!head_view.is_null()) {
      for (const auto& hw : head_view.value("workers", json::array())) {
        if (hw.value("id", std::string{}) != id) continue;
        entry["connected"] = hw.value("connected", false);
        entry["reputation"] = hw.value("reputation", 0.0);
        entry["isolated"] = hw.value("isolated", false);
        entry["eligible"] = hw.value("eligible", false);
      }
    }
    workers.push_back(entry);
    ++index;
  }
  out["workers"] = workers;
  out["log"] = log_json(cluster.value("log_dir", (dir / "log").string()));
  // Without the head, the last certificate's snapshot is the freshest reputation there is.
  if (head_view.is_null() && out["log"].contains("last_certificate")) {
    const auto snap = out["log"]["last_certificate"].value("reputation_snapshot", json::array());
    for (std::size_t i = 0; i < snap.size() && i < out["workers"].size(); ++i) {
      out["workers"][i]["reputation"] = snap[i].value("value", 0.0);
      out["workers"][i]["isolated"] = snap[i].value("isolated", false);
      out["workers"][i]["reputation_from"] = "last certificate";
    }
  }
  if (!head_view.is_null()) {
    out["chain"] = head_view.value("chain", json::object());
    out["queries_done"] = head_view.value("queries_done", 0);
    out["queries_in_flight"] = head_view.value("queries_in_flight", 0);
    out["connected"] = head_view.value("connected", 0);
    out["q"] = head_view.value("q", 0);
  }
  return out;
}

std::string yes_no(bool b, const char* yes, const char* no) { return b ? yes : no; }

// "1 certificate", "2 certificates".
std::string count(const json& n, const std::string& one, const std::string& many) {
  const auto v = n.is_number() ? n.get<std::int64_t>() : 0;
  return std::to_string(v) + " " + (v == 1 ? one : many);
}

// Sentences, results first: is the cluster up and answering, then each worker, then the details.
void print_text(const json& s, const std::string& dir_text) {
  const Style& st = style();
  const auto& head = s["head"];
  const bool alive = head.value("alive", false);
  const bool answering = head.value("answering", false);
  std::size_t workers_alive = 0;
  for (const auto& w : s["workers"]) workers_alive += w.value("alive", false) ? 1 : 0;
  const std::size_t n = s["workers"].size();
  std::cout << "Cluster in " << s.value("dir", "") << ": "
            << (answering ? st.good("up") : alive ? st.bad("head not answering") : st.bad("stopped")) << ", "
            << workers_alive << " of " << n << " worker processes alive";
  if (answering) std::cout << ", " << s.value("connected", 0) << " connected to the head";
  std::cout << ". n = " << s.value("n", 0) << ", f = " << s.value("f", 0);
  if (s.contains("q")) std::cout << ", quorum " << s.value("q", 0);
  std::cout << ".\n";
  for (const auto& w : s["workers"]) {
    std::cout << "Worker " << w.value("name", "?") << " (" << w.value("id", "?") << "): "
              << (w.value("alive", false) ? "process " + std::to_string(w.value("pid", 0)) + " alive"
                                          : st.bad("process " + std::to_string(w.value("pid", 0)) + " not running"));
    if (w.contains("connected")) std::cout << ", " << yes_no(w.value("connected", false), "connected", "disconnected");
    if (w.contains("reputation")) {
      std::ostringstream rep;
      rep.precision(3);
      rep << w.value("reputation", 0.0);
      std::cout << ", reputation " << rep.str();
      if (w.contains("reputation_from")) std::cout << " (from the last certificate)";
    }
    if (w.value("isolated", false)) std::cout << ", " << st.bad("isolated");
    if (w.value("byzantine", "none") != "none") std::cout << ", started Byzantine (" << w.value("byzantine", "") << ")";
    std::cout << ".\n";
  }
  const auto& log = s["log"];
  std::cout << "Certificate log " << log.value("dir", "") << ": "
            << count(log["certificates"], "certificate", "certificates") << ", "
            << count(log["equivocations"], "equivocation record", "equivocation records") << ", "
            << count(log["transitions"], "membership transition", "membership transitions") << ".";
  if (log.contains("last_certificate")) {
    const auto& c = log["last_certificate"];
    if (c.contains("error")) {
      std::cout << " The last, " << c.value("file", "") << ", does not decode: " << c.value("error", "") << ".";
    } else {
      std::cout << " The last is sequence " << c.value("sequence", 0) << ", " << c.value("outcome", "") << " after "
                << count(c["rounds"], "round", "rounds") << ": " << c.value("file", "") << ".";
    }
  }
  std::cout << "\n";
  if (answering) {
    std::cout << "Head: process " << head.value("pid", 0) << " at http://" << s.value("http", "") << ", "
              << count(s["queries_done"], "query", "queries") << " done, " << s.value("queries_in_flight", 0)
              << " in flight, next sequence " << s["chain"].value("next_sequence", 0) << ".\n";
  } else {
    std::cout << "Head: process " << head.value("pid", 0) << (alive ? " alive" : " not running") << ", address http://"
              << s.value("http", "") << (head.contains("http_error") ? " (" + head.value("http_error", "") + ")" : "")
              << ".\n";
  }
  std::cout << "Details:\n";
  if (s["membership"].contains("error")) {
    std::cout << "  membership " << s["membership"].value("file", "") << ": " << s["membership"].value("error", "") << "\n";
  } else {
    const auto& m = s["membership"];
    std::cout << "  membership " << m.value("file", "") << ": " << m.value("cluster_id", "") << ", epoch "
              << m.value("epoch", 0) << ", digest " << m.value("digest", "") << "\n"
              << "  head public key " << m.value("head_public_key", "") << "; log " << head.value("log", "") << "\n";
  }
  std::cout << "  model " << s.value("model", "") << "\n";
  auto key_problem = [](const std::string& who, const json& key) {
    if (key.contains("error")) std::cout << "  " << who << "'s key file: " << key.value("error", "") << "\n";
    if (!key.value("matches_membership", true)) {
      std::cout << "  " << who << "'s key file " << key.value("file", "")
                << " is not the key the membership names; its handshakes will fail\n";
    }
    if (key.contains("warning")) std::cout << "  " << who << "'s key file: " << key.value("warning", "") << "\n";
  };
  key_problem("the head", head.value("key", json::object()));
  for (const auto& w : s["workers"]) key_problem(w.value("name", "?"), w.value("key", json::object()));
  for (const auto& w : s["workers"]) {
    std::cout << "  " << w.value("name", "?") << ": id " << w.value("id", "") << ", address " << w.value("address", "")
              << ", public key " << w.value("public_key", "?") << ", key file "
              << w.value("key", json::object()).value("file", "") << ", log "
              << w.value("log", "") << "\n";
  }
  if (!answering) {
    std::cout << (alive ? "The head runs but does not answer; see its log above."
                        : "To start it again: butterfly cluster start --dir " + dir_text)
              << "\n";
  }
}

}  // namespace

void add_status_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>("butterfly-cluster");
  auto json_out = std::make_shared<bool>(false);
  CLI::App* status = app.add_subcommand(
      "status", "Everything the local cluster remembers: processes, keys, membership, log, reputation");
  status->add_option("--dir", *dir, "Cluster directory (default ./butterfly-cluster)");
  status->add_flag("--json", *json_out, "Print it all as one JSON object");
  status->footer(
      "Shows the processes (alive or not), each worker's public key, address and phonetic name, the\n"
      "membership digest, the certificate log (count, last certificate) and, when the head answers,\n"
      "reputation, isolation and the chain; without the head, reputation from the last certificate.\n"
      "Exit status: 0 when the head answers, 1 when the cluster is not running, 2 when DIR has no cluster.\n"
      "Examples:\n"
      "  butterfly status\n"
      "  butterfly status --dir /tmp/c7 --json");
  status->callback([=] {
    action() = [=] {
      const json s = collect(*dir);
      if (*json_out) {
        std::cout << s.dump(2) << "\n";
      } else {
        print_text(s, *dir);
      }
      return s["head"].value("answering", false) ? exit_ok : exit_failed;
    };
  });
}

}  // namespace bf::cli
