#include "cli/sentences.hpp"

#include <sstream>

#include "cli/cli.hpp"

namespace bf::cli {
namespace {

// Ends a sentence with a full stop unless it already ends with punctuation.
std::string sentence(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  if (!s.empty() && s.back() != '.' && s.back() != '!' && s.back() != '?') s += '.';
  return s;
}

std::string outcome_words(std::string outcome) {
  for (char& c : outcome) c = c == '-' || c == '_' ? ' ' : c;
  return outcome;
}

std::string number(double v) {
  std::ostringstream out;
  out.precision(3);
  out << v;
  return out.str();
}

}  // namespace

std::string name_list(const nlohmann::json& ids, const std::string& none) {
  std::vector<std::string> names;
  if (ids.is_array()) {
    for (const auto& id : ids) names.push_back(worker_name(id.is_string() ? id.get<std::string>() : id.dump()));
  }
  if (names.empty()) return none;
  std::string s = names.front();
  for (std::size_t i = 1; i < names.size(); ++i) s += (i + 1 == names.size() ? " and " : ", ") + names[i];
  return s;
}

std::string worker_label(const std::string& id) {
  const std::string name = worker_name(id);
  return name == id ? id : name + " (" + id + ")";
}

std::string ask_submitted_sentence(std::uint32_t workers, std::uint32_t quorum) {
  std::string s = "Asked " + std::to_string(workers) + (workers == 1 ? " worker" : " workers");
  if (workers >= 2) s += ", " + phonetic_name(0) + " to " + phonetic_name(workers - 1);
  return s + "; an answer needs " + std::to_string(quorum) + " that agree.";
}

std::vector<std::string> ask_result_sentences(const nlohmann::json& reply, bool audit_pass,
                                              const std::string& first_failed_check) {
  std::vector<std::string> out;
  const std::string outcome = reply.value("outcome", std::string("unknown"));
  std::string answer = reply.value("answer", std::string{});
  for (char& c : answer) c = c == '\n' ? ' ' : c;  // one line: a screen reader reads it as one sentence
  const auto rounds = reply.value("rounds", 0);
  const std::string round_text = std::to_string(rounds) + (rounds == 1 ? " round" : " rounds");
  if (outcome == "decided") {
    out.push_back(sentence("Answer: " + answer));
    out.push_back(sentence("Decided in " + round_text + " by " + name_list(reply.value("signers", nlohmann::json::array())) +
                           "; sequence " + std::to_string(reply.value("sequence", 0))));
  } else {
    out.push_back(sentence("No answer: " + outcome_words(outcome) + " after " + round_text));
  }
  for (const char* group : {"outvoted", "silent", "isolated"}) {
    const auto ids = reply.value(group, nlohmann::json::array());
    if (ids.empty()) continue;
    std::string g = group;
    g[0] = static_cast<char>(g[0] - 'a' + 'A');
    out.push_back(sentence(g + ": " + name_list(ids)));
  }
  out.push_back(audit_pass ? std::string("Certificate verified offline: PASS.")
                           : sentence("Certificate audit FAILED at the " + first_failed_check +
                                      " check; do not trust this answer"));
  return out;
}

std::vector<std::string> cluster_started_sentences(const nlohmann::json& cluster, const std::string& dir_arg,
                                                   std::uint32_t byzantine, const std::string& kind) {
  std::vector<std::string> out;
  const auto workers = cluster.value("workers", nlohmann::json::array());
  nlohmann::json all = nlohmann::json::array(), bad = nlohmann::json::array();
  for (const auto& w : workers) {
    all.push_back(w.value("id", std::string{}));
    if (w.value("byzantine", std::string("none")) != "none") bad.push_back(w.value("id", std::string{}));
  }
  out.push_back(sentence("Cluster running in " + cluster.value("dir", std::string{}) + " with " +
                         std::to_string(workers.size()) + " workers, n = " + std::to_string(cluster.value("n", 0)) +
                         ", f = " + std::to_string(cluster.value("f", 0))));
  out.push_back(sentence("Workers: " + name_list(all)));
  if (byzantine > 0) out.push_back(sentence("Byzantine on purpose (" + kind + "): " + name_list(bad)));
  out.push_back(sentence("Head at http://" + cluster.value("http", std::string{})));
  out.push_back(sentence("To ask: butterfly query ask \"2+2?\" --dir " + dir_arg));
  out.push_back(sentence("To see everything it remembers: butterfly status --dir " + dir_arg));
  out.push_back(sentence("To stop it: butterfly cluster stop --dir " + dir_arg));
  out.push_back(sentence("Process logs are in " + cluster.value("dir", std::string{}) + "/logs"));
  return out;
}

std::vector<std::string> head_status_sentences(const nlohmann::json& status, const std::string& http) {
  std::vector<std::string> out;
  const auto chain = status.value("chain", nlohmann::json::object());
  out.push_back(sentence(std::to_string(status.value("connected", 0)) + " of " + std::to_string(status.value("n", 0)) +
                         " workers connected to the head at http://" + http + "; " +
                         std::to_string(status.value("queries_in_flight", 0)) + " queries in flight, next sequence " +
                         std::to_string(chain.value("next_sequence", 0))));
  for (const auto& w : status.value("workers", nlohmann::json::array())) {
    const std::string id = w.value("id", std::string("?"));
    std::string s = "Worker " + worker_name(id) + ": reputation " + number(w.value("reputation", 0.0)) + ", " +
                    (w.value("connected", false) ? "connected" : "disconnected");
    if (w.value("isolated", false)) s += ", isolated";
    out.push_back(sentence(s + "; id " + id + " at " + w.value("address", std::string{})));
  }
  return out;
}

}  // namespace bf::cli
