// Linear sentences for people, screen readers and speech: results first, details after, workers by
// their phonetic names. Screen-reader mode prints these instead of aligned columns.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bf::cli {

// "alpha", "alpha and bravo", "alpha, bravo and charlie" from ids; `none` when empty.
std::string name_list(const nlohmann::json& ids, const std::string& none = "none");

// "charlie (worker-03)" for the column outputs; ids of other shapes unchanged.
std::string worker_label(const std::string& id);

// The result sentences of a /v1/query reply (spec/http.md) and its offline audit: the answer, how it
// was decided and by whom, who was outvoted, silent or isolated, and the audit verdict. These are
// what `query ask --screen-reader` prints first and what `--speak` says.
std::vector<std::string> ask_result_sentences(const nlohmann::json& reply, bool audit_pass,
                                              const std::string& first_failed_check);

// What `query ask` says the moment the query is sent, before any answer: the workers asked and how
// many must agree ("Asked 4 workers, alpha to delta; an answer needs 3 that agree."). On stderr, as
// progress, so stdout still starts with the result.
std::string ask_submitted_sentence(std::uint32_t workers, std::uint32_t quorum);

// `cluster start` as sentences: what runs where, which workers misbehave, how to go on.
std::vector<std::string> cluster_started_sentences(const nlohmann::json& cluster, const std::string& dir_arg,
                                                   std::uint32_t byzantine, const std::string& kind);

// A head's GET /v1/status as sentences: the summary, then "Worker alpha: reputation 0.98, connected."
std::vector<std::string> head_status_sentences(const nlohmann::json& status, const std::string& http);

}  // namespace bf::cli
