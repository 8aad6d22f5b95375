// bf_cert_tool: writes the example cluster (keys, membership) and its certificate log into a
// directory, byte for byte the same on every run, or prints the spec's test-vector section.
//   bf_cert_tool --out DIR [--manifest proofs/MANIFEST] [--wrong-task-expectation]
//   (--wrong-task-expectation: 000005.cert's task check expects sat for its unsat formula, so that
//   `cert verify --z3` must FAIL "task 0"; the certificate is otherwise valid and head-signed)
//   bf_cert_tool --spec-vectors
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "runtime/auditor.hpp"
#include "runtime/examples.hpp"

namespace rt = bf::runtime;

int main(int argc, char** argv) {
  std::string out, manifest;
  bool vectors = false;
  rt::ExampleOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) out = argv[++i];
    else if (a == "--manifest" && i + 1 < argc) manifest = argv[++i];
    else if (a == "--spec-vectors") vectors = true;
    else if (a == "--wrong-task-expectation") options.wrong_task_expectation = true;
    else {
      std::cerr << "usage: bf_cert_tool --out DIR [--manifest proofs/MANIFEST] [--wrong-task-expectation] | --spec-vectors\n";
      return 2;
    }
  }
  if (out.empty() == !vectors) {
    std::cerr << "usage: bf_cert_tool --out DIR [--manifest proofs/MANIFEST] [--wrong-task-expectation] | --spec-vectors\n";
    return 2;
  }
  std::vector<bf::core::cert::InvariantRef> invariants;
  if (!manifest.empty()) {
    auto m = rt::read_manifest(manifest);
    if (!m) {
      std::cerr << "bf_cert_tool: " << m.error().message << "\n";
      return 2;
    }
    // The invariants a decided certificate relies on: quorum safety and liveness, numeric fusion range.
    for (const char* id : {"F2", "Q1", "Q2", "Q3"}) {
      if (auto it = m->find(id); it != m->end()) invariants.push_back({id, it->second});
    }
  }
  auto ex = rt::make_examples(invariants, options);
  if (!ex) {
    std::cerr << "bf_cert_tool: " << ex.error().message << "\n";
    return 1;
  }
  if (vectors) {
    std::cout << rt::spec_vectors(*ex);
    return 0;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(out) / "log", ec);
  if (ec) {
    std::cerr << "bf_cert_tool: cannot create " << out << ": " << ec.message() << "\n";
    return 2;
  }
  auto put = [&](const fs::path& p, std::span<const std::uint8_t> b, unsigned mode) {
    auto st = rt::write_new_file(p, b, mode, "file");
    if (!st) {
      std::cerr << "bf_cert_tool: " << st.error().message << "\n";
      std::exit(2);
    }
  };
  for (std::size_t i = 0; i < ex->worker_seeds.size(); ++i) {
    auto k = rt::write_key_file(fs::path(out) / (ex->membership.record.workers[i].id + ".key"), ex->worker_seeds[i]);
    if (!k) return std::cerr << "bf_cert_tool: " << k.error().message << "\n", 2;
  }
  if (auto k = rt::write_key_file(fs::path(out) / "head.key", ex->head_seed); !k) {
    return std::cerr << "bf_cert_tool: " << k.error().message << "\n", 2;
  }
  const std::string mj = rt::membership_json(ex->membership).dump(2) + "\n";
  put(fs::path(out) / "membership.json", std::span(reinterpret_cast<const std::uint8_t*>(mj.data()), mj.size()), 0644);
  for (const auto& f : ex->log) put(fs::path(out) / "log" / f.name, f.bytes, 0644);
  std::cout << "wrote " << ex->worker_seeds.size() + 1 << " keys, membership.json (digest "
            << rt::hex(ex->membership.digest) << ") and " << ex->log.size() << " log files to " << out << "\n";
  return 0;
}
