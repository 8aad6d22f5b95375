#include "runtime/membership_file.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <set>

namespace bf::runtime {
namespace {

Error bad(const std::string& problem) {
  return Error{Errc::invalid_membership, "membership: " + problem};
}

// {"name": string, "system": string, "temperature": number 0..2, "seed": unsigned integer}, all
// four, nothing else.
Result<Specialist> specialist_from_json(const nlohmann::json& j, const std::string& worker) {
  const std::string shape = "worker '" + worker + "' specialist must be {\"name\": string, \"system\": string, "
                            "\"temperature\": number 0..2, \"seed\": unsigned integer}";
  if (!j.is_object() || j.size() != 4 || !j.contains("name") || !j["name"].is_string() || !j.contains("system") ||
      !j["system"].is_string() || !j.contains("temperature") || !j["temperature"].is_number() || !j.contains("seed") ||
      !j["seed"].is_number_unsigned()) {
    return bad(shape);
  }
  const double t = j["temperature"].get<double>();
  if (!(t >= 0.0 && t <= static_cast<double>(specialist_temperature_max))) return bad(shape);
  Specialist s{j["name"].get<std::string>(), j["system"].get<std::string>(), static_cast<float>(t),
               j["seed"].get<std::uint64_t>()};
  if (auto ok = check_specialist(s); !ok) return ok.error();
  return s;
}

}  // namespace

double temperature_for_json(float temperature) {
  // JSON numbers are doubles: the float itself would be written 0.20000000298023224 for 0.2F. The
  // float's shortest decimal form (to_chars) read as a double is written 0.2 and narrows back to
  // the same float.
  std::array<char, 64> text{};
  const auto written = std::to_chars(text.data(), text.data() + text.size(), temperature);
  assert(written.ec == std::errc{});  // 64 characters hold any float
  double value = 0;
  const auto read = std::from_chars(text.data(), written.ptr, value);
  assert(read.ec == std::errc{} && read.ptr == written.ptr);
  (void)read;
  return value;
}

Result<Membership> membership_from_record(core::cert::MembershipRecord record) {
  auto canonical = core::cert::encode_membership(record);
  if (!canonical) return bad(canonical.error().message);
  Membership m{std::move(record), std::move(canonical.value()), {}, {}, {}};
  m.digest = blake2b(m.canonical);
  m.addresses.assign(m.record.workers.size(), std::string{});
  m.specialists.assign(m.record.workers.size(), Specialist{});
  return m;
}

core::Status check_address(std::string_view address) {
  const auto colon = address.rfind(':');
  if (address.empty() || address.size() > address_bytes_max || colon == std::string_view::npos || colon == 0) {
    return bad("address '" + std::string(address) + "' must be host:port, e.g. 127.0.0.1:7001");
  }
  const auto port = address.substr(colon + 1);
  std::uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || value > 65535) {
      return bad("address '" + std::string(address) + "' has a bad port; use 1..65535");
    }
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port.empty() || value == 0 || value > 65535) {
    return bad("address '" + std::string(address) + "' has a bad port; use 1..65535");
  }
  return core::Ok{};
}

core::Status set_worker_address(Membership& m, std::string_view id, std::string_view address) {
  if (auto ok = check_address(address); !ok) return ok.error();
  m.addresses.resize(m.record.workers.size());
  for (std::size_t i = 0; i < m.record.workers.size(); ++i) {
    if (m.record.workers[i].id == id) {
      m.addresses[i] = std::string(address);
      return core::Ok{};
    }
  }
  return bad("no worker '" + std::string(id) + "' to give the address " + std::string(address));
}

core::Status check_specialist(const Specialist& s) {
  const bool name_ok = !s.name.empty() && s.name.size() <= specialist_name_bytes_max &&
                       std::all_of(s.name.begin(), s.name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                                c == '_' || c == '-';
                       });
  if (!name_ok) {
    return bad("specialist name '" + s.name + "' must be 1.." + std::to_string(specialist_name_bytes_max) +
               " characters of A-Z a-z 0-9 . _ -");
  }
  if (s.system_prompt.size() > specialist_system_bytes_max) {
    return bad("specialist '" + s.name + "' system prompt is " + std::to_string(s.system_prompt.size()) +
               " bytes; at most " + std::to_string(specialist_system_bytes_max));
  }
  if (!(s.temperature >= 0.0F && s.temperature <= specialist_temperature_max)) {
    return bad("specialist '" + s.name + "' temperature must be 0..2 (0 is greedy)");
  }
  return core::Ok{};
}

core::Status set_worker_specialist(Membership& m, std::string_view id, Specialist specialist) {
  if (auto ok = check_specialist(specialist); !ok) return ok.error();
  m.specialists.resize(m.record.workers.size());
  for (std::size_t i = 0; i < m.record.workers.size(); ++i) {
    if (m.record.workers[i].id == id) {
      m.specialists[i] = std::move(specialist);
      return core::Ok{};
    }
  }
  return bad("no worker '" + std::string(id) + "' to make the specialist " + specialist.name);
}

Result<Membership> make_membership_record(const std::string& cluster_id, std::uint64_t epoch,
                                          std::uint32_t f, const PublicKey& head_key,
                                          std::vector<core::cert::MemberKey> workers) {
  std::sort(workers.begin(), workers.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  const auto n = static_cast<std::uint32_t>(workers.size());
  if (n == 0 || n > core::limits::workers_max) {
    return bad("a membership needs 1 to 64 workers, got " + std::to_string(n));
  }
  if (3 * f >= n) {
    return bad("f = " + std::to_string(f) + " needs n > 3f = " + std::to_string(3 * f) + " workers, got " +
               std::to_string(n) + "; lower --f or add workers");
  }
  core::cert::MembershipRecord r;
  r.cluster_id = cluster_id;
  r.epoch = epoch;
  r.n = n;
  r.f = f;
  r.q = core::quorum_safe(n, f);
  r.rule = core::QuorumRule::safe;
  r.head_key = head_key;
  r.workers = std::move(workers);
  return membership_from_record(std::move(r));
}

nlohmann::json membership_json(const Membership& m) {
  nlohmann::json workers = nlohmann::json::array();
  for (std::size_t i = 0; i < m.record.workers.size(); ++i) {
    const auto& w = m.record.workers[i];
    nlohmann::json entry = {{"id", w.id}, {"public_key", hex(w.key)}};
    if (i < m.addresses.size() && !m.addresses[i].empty()) entry["address"] = m.addresses[i];
    if (i < m.specialists.size() && !m.specialists[i].name.empty()) {
      const Specialist& sp = m.specialists[i];
      entry["specialist"] = {{"name", sp.name}, {"system", sp.system_prompt}, {"temperature", temperature_for_json(sp.temperature)}, {"seed", sp.seed}};
    }
    workers.push_back(std::move(entry));
  }
  // ordered_json would keep field order; the reader accepts any order, so plain json is fine.
  return {{"format", "butterfly-membership"},
          {"version", core::cert::format_version},
          {"cluster_id", m.record.cluster_id},
          {"epoch", m.record.epoch},
          {"n", m.record.n},
          {"f", m.record.f},
          {"quorum_rule", core::quorum_rule_name(m.record.rule)},
          {"q", m.record.q},
          {"head_public_key", hex(m.record.head_key)},
          {"workers", workers},
          {"digest", hex(m.digest)}};
}

Result<Membership> membership_from_json(const nlohmann::json& j) {
  static const std::set<std::string> fields = {"format", "version", "cluster_id", "epoch",
                                               "n", "f", "quorum_rule", "q",
                                               "head_public_key", "workers", "digest"};
  if (!j.is_object()) return bad("the file is not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (!fields.contains(key)) return bad("unknown field '" + key + "'");
  }
  for (const auto& key : fields) {
    if (!j.contains(key)) return bad("missing field '" + key + "'");
  }
  if (j["format"] != "butterfly-membership") return bad("'format' must be \"butterfly-membership\"");
  if (!j["version"].is_number_unsigned() || j["version"].get<std::uint64_t>() != core::cert::format_version) {
    return bad("unknown 'version'; this build reads version 1");
  }
  auto number = [&](const char* key, std::uint64_t max, std::uint64_t& out) -> bool {
    const bool whole = j[key].is_number_unsigned() ||
                       (j[key].is_number_integer() && j[key].get<std::int64_t>() >= 0);
    if (!whole || j[key].get<std::uint64_t>() > max) return false;
    out = j[key].get<std::uint64_t>();
    return true;
  };
  std::uint64_t epoch = 0, n = 0, f = 0, q = 0;
  if (!number("epoch", UINT64_MAX, epoch)) return bad("'epoch' must be a non-negative integer");
  if (!number("n", 255, n) || !number("f", 255, f) || !number("q", 255, q)) {
    return bad("'n', 'f' and 'q' must be small non-negative integers");
  }
  if (!j["cluster_id"].is_string() || !j["head_public_key"].is_string() || !j["digest"].is_string() ||
      !j["quorum_rule"].is_string() || !j["workers"].is_array()) {
    return bad("'cluster_id', 'head_public_key', 'digest', 'quorum_rule' must be strings and 'workers' an array");
  }
  if (j["quorum_rule"] != "safe") return bad("'quorum_rule' must be \"safe\"; the seed's 2f+1 is unsafe for n = 3, 5, 6");
  core::cert::MembershipRecord r;
  r.cluster_id = j["cluster_id"].get<std::string>();
  r.epoch = epoch;
  r.n = static_cast<std::uint32_t>(n);
  r.f = static_cast<std::uint32_t>(f);
  r.q = static_cast<std::uint32_t>(q);
  auto head = hex32(j["head_public_key"].get<std::string>(), "'head_public_key'");
  if (!head) return bad(head.error().message);
  r.head_key = *head;
  if (j["workers"].size() > core::limits::workers_max) return bad("more than 64 workers");
  std::vector<std::string> addresses;
  std::vector<Specialist> specialists;
  for (const auto& w : j["workers"]) {
    const bool has_address = w.is_object() && w.contains("address");
    const bool has_specialist = w.is_object() && w.contains("specialist");
    if (!w.is_object() || w.size() != 2u + (has_address ? 1u : 0u) + (has_specialist ? 1u : 0u) || !w.contains("id") ||
        !w.contains("public_key") || !w["id"].is_string() || !w["public_key"].is_string() ||
        (has_address && !w["address"].is_string())) {
      return bad("each worker must be {\"id\": string, \"public_key\": 64 hex digits, optional \"address\": \"host:port\", "
                 "optional \"specialist\": {...}}");
    }
    addresses.push_back(has_address ? w["address"].get<std::string>() : std::string{});
    if (has_address) {
      if (auto ok = check_address(addresses.back()); !ok) return ok.error();
    }
    specialists.emplace_back();
    if (has_specialist) {
      auto sp = specialist_from_json(w["specialist"], w["id"].get<std::string>());
      if (!sp) return sp.error();
      specialists.back() = std::move(sp.value());
    }
    auto key = hex32(w["public_key"].get<std::string>(), "worker '" + w["id"].get<std::string>() + "' public_key");
    if (!key) return bad(key.error().message);
    r.workers.push_back({w["id"].get<std::string>(), *key});
  }
  auto m = membership_from_record(std::move(r));
  if (!m) return m;
  // membership_from_record() checked the workers are in canonical order, so addresses keep their positions.
  m.value().addresses = std::move(addresses);
  m.value().specialists = std::move(specialists);
  if (hex(m->digest) != j["digest"].get<std::string>()) {
    return bad("'digest' " + j["digest"].get<std::string>() + " differs from the recomputed digest " +
               hex(m->digest) + "; the file was edited or damaged");
  }
  return m;
}

Result<Membership> read_membership_file(const std::filesystem::path& path) {
  auto raw = read_file(path, membership_file_bytes_max, "membership file");
  if (!raw) return raw.error();
  const auto j = nlohmann::json::parse(raw->begin(), raw->end(), nullptr, false);
  if (j.is_discarded()) return bad(path.string() + " is not valid JSON");
  auto m = membership_from_json(j);
  if (!m) return Error{m.error().code, path.string() + ": " + m.error().message};
  return m;
}

}  // namespace bf::runtime
