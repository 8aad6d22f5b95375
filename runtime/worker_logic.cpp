#include "runtime/worker_logic.hpp"

#include <array>
#include <cctype>
#include <utility>

#include "runtime/producer.hpp"

namespace bf::runtime {
namespace cc = core::cert;

namespace {

constexpr std::array<std::pair<ByzantineKind, const char*>, 9> kind_names{{
    {ByzantineKind::none, "none"},
    {ByzantineKind::wrong, "wrong"},
    {ByzantineKind::random, "random"},
    {ByzantineKind::equivocate, "equivocate"},
    {ByzantineKind::collude, "collude"},
    {ByzantineKind::slow, "slow"},
    {ByzantineKind::silent, "silent"},
    {ByzantineKind::malformed, "malformed"},
    {ByzantineKind::replay, "replay"},
}};

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t u64_of(const Digest& d) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(d[static_cast<std::size_t>(i)]) << (8 * i);
  return v;
}

// A wrong answer drawn from `x`: numeric answers land far from small sums (1000.xxx and up), exact
// answers are a tagged word no honest model writes.
std::string wrong_text(cc::AgreementRule rule, std::uint64_t x) {
  if (rule == cc::AgreementRule::numeric) {
    return "The answer is " + std::to_string(1000 + x % 1000000) + "." + std::to_string(x % 10) + ".";
  }
  static constexpr std::array<const char*, 8> words{"lyon", "marseille", "blue", "seven",
                                                    "unknown", "no", "yes", "forty"};
  return std::string("byzantine ") + words[x % words.size()] + " " + std::to_string(x % 997);
}

}  // namespace

std::optional<ByzantineKind> byzantine_from_name(std::string_view name) {
  for (const auto& [k, n] : kind_names) {
    if (name == n) return k;
  }
  return std::nullopt;
}

const char* byzantine_name(ByzantineKind kind) {
  for (const auto& [k, n] : kind_names) {
    if (k == kind) return n;
  }
  return "unknown";
}

std::string collusion_text(cc::AgreementRule rule, const Digest& query_id) {
  return wrong_text(rule, u64_of(query_id) ^ 0xC011'0DE5ULL);
}

core::Result<Bytes> canonical_payload(cc::AgreementRule rule, std::uint8_t param, std::string_view text) {
  if (rule == cc::AgreementRule::numeric) {
    // Models state the answer first and may ramble after it ("The answer is 4. In algebra, 2+2
    // ..."), so only the first sentence that holds a digit counts: it ends at a newline, or at
    // '.', '!' or '?' followed by a space or the end (a '.' inside "4.5" does not end it).
    const std::size_t first_digit = text.find_first_of("0123456789");
    if (first_digit != std::string_view::npos) {
      for (std::size_t i = first_digit; i < text.size(); ++i) {
        const char ch = text[i];
        const bool at_break = i + 1 == text.size() || std::isspace(static_cast<unsigned char>(text[i + 1])) != 0;
        if (ch == '\n' || ((ch == '.' || ch == '!' || ch == '?') && at_break)) {
          text = text.substr(0, i);
          break;
        }
      }
    }
    // The last number of that sentence: optional '-', digits, optional '.' and digits.
    std::size_t end = text.size();
    while (end > 0 && std::isdigit(static_cast<unsigned char>(text[end - 1])) == 0) --end;
    if (end == 0) {
      return core::Error{Errc::invalid_argument, "no number in the model's answer; the numeric agreement rule needs one"};
    }
    std::size_t begin = end;
    while (begin > 0 && std::isdigit(static_cast<unsigned char>(text[begin - 1])) != 0) --begin;
    std::string_view frac;
    std::string_view whole = text.substr(begin, end - begin);
    if (begin >= 2 && text[begin - 1] == '.' && std::isdigit(static_cast<unsigned char>(text[begin - 2])) != 0) {
      frac = whole;
      std::size_t wb = begin - 1;
      while (wb > 0 && std::isdigit(static_cast<unsigned char>(text[wb - 1])) != 0) --wb;
      whole = text.substr(wb, begin - 1 - wb);
      begin = wb;
    }
    const bool negative = begin > 0 && text[begin - 1] == '-';
    while (whole.size() > 1 && whole.front() == '0') whole.remove_prefix(1);
    if (whole.size() > 12) {
      return core::Error{Errc::invalid_argument, "the number " + std::string(whole) +
                                                     " is too large for the numeric rule (at most 12 digits before the point)"};
    }
    std::int64_t micro = 0;
    for (char ch : whole) micro = micro * 10 + (ch - '0');
    micro *= 1'000'000;
    std::int64_t scale = 100'000;
    for (std::size_t i = 0; i < frac.size() && i < cc::numeric_decimals_max; ++i, scale /= 10) {
      micro += (frac[i] - '0') * scale;
    }
    if (frac.size() > cc::numeric_decimals_max && frac[cc::numeric_decimals_max] >= '5') micro += 1;  // half up
    if (micro > cc::numeric_abs_max) {
      return core::Error{Errc::invalid_argument, "the number is too large for the numeric rule (|x| <= 10^12)"};
    }
    if (negative) micro = -micro;
    if (param > cc::numeric_decimals_max) {
      return core::Error{Errc::invalid_argument, "numeric agreement keeps at most 6 decimals"};
    }
    return cc::i64_bytes(cc::numeric_canonical(micro, param));
  }
  std::string out;
  bool space = false;
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isspace(u) != 0) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(u < 0x80 ? static_cast<char>(std::tolower(u)) : ch);
  }
  while (!out.empty() && std::string_view(".,;:!?").find(out.back()) != std::string_view::npos) out.pop_back();
  if (out.size() > cc::payload_bytes_max) out.resize(cc::payload_bytes_max);
  if (out.empty()) return core::Error{Errc::invalid_argument, "the model's answer is empty after normalisation"};
  return Bytes(out.begin(), out.end());
}

WorkerLogic::WorkerLogic(WorkerConfig config) : config_(std::move(config)), rng_(config_.seed) {}

void WorkerLogic::on_ask(const proto::Ask& ask, Millis /*now*/) {
  if (config_.byzantine == ByzantineKind::silent) return;
  if (jobs_.size() >= worker_jobs_max) return;  // overloaded: the head times this round out
  const std::uint64_t job = next_job_++;
  if (config_.byzantine == ByzantineKind::malformed) {
    actions_.emplace_back(SendMalformed{job});
    return;
  }
  jobs_.emplace(job, ask);
  actions_.emplace_back(RunModel{job, ask});
}

void WorkerLogic::on_model_done(std::uint64_t job, core::Result<ModelOutput> output, Millis now) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  const proto::Ask ask = it->second;
  jobs_.erase(it);
  if (!output) {
    actions_.emplace_back(ModelFailed{job, output.error().message});
    return;
  }
  std::vector<std::string> texts;
  switch (config_.byzantine) {
    case ByzantineKind::wrong:
      texts.push_back(wrong_text(ask.agreement, u64_of(ask.query_id) ^ (0x5EEDULL * (config_.self + 1))));
      break;
    case ByzantineKind::random:
      texts.push_back(wrong_text(ask.agreement, splitmix(rng_)));
      break;
    case ByzantineKind::collude:
      texts.push_back(collusion_text(ask.agreement, ask.query_id));
      break;
    case ByzantineKind::equivocate:
      texts.push_back(output->text);
      texts.push_back(collusion_text(ask.agreement, ask.query_id));
      break;
    default:
      texts.push_back(output->text);
  }
  for (const auto& text : texts) {
    auto payload = canonical_payload(ask.agreement, ask.agreement_param, text);
    if (!payload) {
      actions_.emplace_back(ModelFailed{job, payload.error().message});
      continue;
    }
    auto signed_answer = sign_answer(config_.key, config_.self, ask.query_id, ask.round, config_.membership.digest,
                                     ask.agreement, ask.agreement_param, std::move(payload.value()));
    if (!signed_answer) {
      actions_.emplace_back(ModelFailed{job, signed_answer.error().message});
      continue;
    }
    SendAnswer send;
    send.answer.query_id = ask.query_id;
    send.answer.round = ask.round;
    send.answer.answer = std::move(signed_answer.value());
    send.answer.text = text.size() > proto::prompt_bytes_max ? text.substr(0, proto::prompt_bytes_max) : text;
    if (text == output->text && output->distribution.size() <= proto::distribution_entries_max) {
      send.answer.distribution = output->distribution;
    }
    send.not_before = config_.byzantine == ByzantineKind::slow ? now + config_.slow_ms : now;
    actions_.emplace_back(std::move(send));
  }
  if (config_.byzantine == ByzantineKind::replay) actions_.emplace_back(ReplayLast{job});
}

std::vector<WorkerAction> WorkerLogic::take_actions() { return std::exchange(actions_, {}); }

}  // namespace bf::runtime
