// CPU references of the kernels (gpu/reference.hpp). Written for clarity, not speed.
#include "gpu/reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gpu/fusion_math.hpp"

namespace bf::gpu::ref {
namespace {

Error mismatch(const char* what, const std::string& detail) {
  return invalid(std::string(what) + ": " + detail);
}

}  // namespace

std::uint16_t to_bf16(float value) noexcept {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN
  }
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);  // to nearest, ties to even
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

float from_bf16(std::uint16_t bits) noexcept {
  const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
  float value = 0;
  std::memcpy(&value, &wide, sizeof value);
  return value;
}

Status rmsnorm_residual(std::span<float> hidden, std::span<const float> delta, std::span<const float> weight,
                        float eps, std::span<float> out) {
  const std::size_t dim = weight.size();
  if (dim == 0 || hidden.size() % dim != 0 || delta.size() != hidden.size() || out.size() != hidden.size()) {
    return mismatch("rmsnorm_residual", "hidden " + shape_string({hidden.size()}) + ", delta " +
                                            shape_string({delta.size()}) + ", out " + shape_string({out.size()}) +
                                            " must all be rows of weight " + shape_string({dim}));
  }
  for (std::size_t base = 0; base < hidden.size(); base += dim) {
    double squares = 0;
    for (std::size_t j = 0; j < dim; ++j) {
      hidden[base + j] += delta[base + j];
      squares += static_cast<double>(hidden[base + j]) * hidden[base + j];
    }
    const double inverse_rms = 1.0 / std::sqrt(squares / static_cast<double>(dim) + eps);
    for (std::size_t j = 0; j < dim; ++j) {
      out[base + j] = static_cast<float>(hidden[base + j] * inverse_rms * weight[j]);
    }
  }
  return Ok{};
}

Status rope(std::span<float> x, std::size_t tokens, std::size_t heads, std::size_t head_dim,
            std::size_t position_offset, float theta_base) {
  if (head_dim == 0 || head_dim % 2 != 0 || x.size() != tokens * heads * head_dim || !(theta_base > 1.0f)) {
    return mismatch("rope", "x " + shape_string({x.size()}) + " for [tokens, heads, head_dim] " +
                                shape_string({tokens, heads, head_dim}) +
                                "; head_dim must be even and theta_base > 1");
  }
  for (std::size_t j = 0; j < tokens; ++j) {
    const auto position = static_cast<double>(position_offset + j);
    for (std::size_t h = 0; h < heads; ++h) {
      float* row = x.data() + (j * heads + h) * head_dim;
      for (std::size_t i = 0; i < head_dim / 2; ++i) {
        const double frequency =
            std::pow(static_cast<double>(theta_base), -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
        const double angle = position * frequency;
        const double c = std::cos(angle);
        const double s = std::sin(angle);
        const double a = row[2 * i];
        const double b = row[2 * i + 1];
        row[2 * i] = static_cast<float>(a * c - b * s);
        row[2 * i + 1] = static_cast<float>(a * s + b * c);
      }
    }
  }
  return Ok{};
}

Status swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  if (gate.size() != up.size() || out.size() != gate.size()) {
    return mismatch("swiglu", "gate " + shape_string({gate.size()}) + ", up " + shape_string({up.size()}) +
                                  ", out " + shape_string({out.size()}) + " must be equal");
  }
  for (std::size_t i = 0; i < gate.size(); ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
  return Ok{};
}

Status kv_append(std::span<std::uint16_t> cache, std::size_t capacity, std::size_t kv_heads, std::size_t head_dim,
                 std::size_t position, std::span<const float> rows) {
  const std::size_t row = kv_heads * head_dim;
  if (row == 0 || cache.size() != capacity * row || rows.size() % row != 0) {
    return mismatch("kv_append", "cache " + shape_string({cache.size()}) + " for [capacity, kv_heads, head_dim] " +
                                     shape_string({capacity, kv_heads, head_dim}) + ", new rows " +
                                     shape_string({rows.size()}));
  }
  const std::size_t tokens = rows.size() / row;
  if (position > capacity || tokens > capacity - position) {
    return mismatch("kv_append", std::to_string(tokens) + " tokens at position " + std::to_string(position) +
                                     " overflow the cache of " + std::to_string(capacity) +
                                     " rows; start a new sequence or allocate a longer cache");
  }
  for (std::size_t i = 0; i < rows.size(); ++i) cache[position * row + i] = to_bf16(rows[i]);
  return Ok{};
}

Status softmax(std::span<const float> logits, std::size_t vocabulary, float temperature, std::span<float> probs) {
  if (vocabulary == 0 || logits.size() % vocabulary != 0 || probs.size() != logits.size() || !(temperature > 0)) {
    return mismatch("softmax", "logits " + shape_string({logits.size()}) + ", probs " +
                                   shape_string({probs.size()}) + " for vocabulary " +
                                   std::to_string(vocabulary) + " at temperature " + std::to_string(temperature));
  }
  for (std::size_t base = 0; base < logits.size(); base += vocabulary) {
    const auto row = logits.subspan(base, vocabulary);
    const double top = *std::max_element(row.begin(), row.end());
    double total = 0;
    for (const float v : row) total += std::exp((v - top) / temperature);
    for (std::size_t t = 0; t < vocabulary; ++t) {
      probs[base + t] = static_cast<float>(std::exp((row[t] - top) / temperature) / total);
    }
  }
  return Ok{};
}

Status argmax(std::span<const float> logits, std::size_t vocabulary, std::span<std::uint32_t> tokens) {
  if (vocabulary == 0 || vocabulary > UINT32_MAX || logits.size() != tokens.size() * vocabulary) {
    return mismatch("argmax", "logits " + shape_string({logits.size()}) + " for " +
                                  std::to_string(tokens.size()) + " rows of vocabulary " + std::to_string(vocabulary));
  }
  for (std::size_t r = 0; r < tokens.size(); ++r) {
    const float* row = logits.data() + r * vocabulary;
    std::size_t best = 0;
    for (std::size_t t = 1; t < vocabulary; ++t) {
      // Strictly greater: ties keep the lower index; a NaN compares false both ways and never wins,
      // but a NaN at index 0 is replaced by the first number.
      if (row[t] > row[best] || (std::isnan(row[best]) && !std::isnan(row[t]))) best = t;
    }
    tokens[r] = static_cast<std::uint32_t>(best);
  }
  return Ok{};
}

Status linear(std::span<const float> x, std::span<const float> w, std::size_t m, std::size_t n, std::size_t k,
              std::span<float> y) {
  if (x.size() != m * k || w.size() != n * k || y.size() != m * n) {
    return mismatch("linear", "x " + shape_string({x.size()}) + ", w " + shape_string({w.size()}) + ", y " +
                                  shape_string({y.size()}) + " for [m, n, k] " + shape_string({m, n, k}));
  }
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t c = 0; c < n; ++c) {
      double sum = 0;
      for (std::size_t i = 0; i < k; ++i) sum += static_cast<double>(x[r * k + i]) * w[c * k + i];
      y[r * n + c] = static_cast<float>(sum);
    }
  }
  return Ok{};
}

Status attention(const AttentionShape& s, std::span<const float> q, std::span<const std::uint16_t> k_cache,
                 std::span<const std::uint16_t> v_cache, std::span<float> out) {
  const std::size_t q_size = s.tokens * s.heads * s.head_dim;
  const std::size_t cache_size = s.capacity * s.kv_heads * s.head_dim;
  if (s.tokens == 0 || s.kv_heads == 0 || s.head_dim == 0 || s.heads % s.kv_heads != 0 || q.size() != q_size ||
      out.size() != q_size || k_cache.size() != cache_size || v_cache.size() != cache_size ||
      s.position_offset + s.tokens > s.capacity) {
    return mismatch("attention", "q " + shape_string({q.size()}) + " for [tokens, heads, head_dim] " +
                                     shape_string({s.tokens, s.heads, s.head_dim}) + ", caches " +
                                     shape_string({k_cache.size(), v_cache.size()}) +
                                     " for [capacity, kv_heads, head_dim] " +
                                     shape_string({s.capacity, s.kv_heads, s.head_dim}) + ", position offset " +
                                     std::to_string(s.position_offset));
  }
  const std::size_t group = s.heads / s.kv_heads;
  std::vector<double> scores(s.position_offset + s.tokens);
  for (std::size_t j = 0; j < s.tokens; ++j) {
    const std::size_t keys = s.position_offset + j + 1;  // causal: up to and including itself
    for (std::size_t h = 0; h < s.heads; ++h) {
      const float* query = q.data() + (j * s.heads + h) * s.head_dim;
      const std::size_t kv = h / group;
      double top = -INFINITY;
      for (std::size_t p = 0; p < keys; ++p) {
        const std::uint16_t* key = k_cache.data() + (p * s.kv_heads + kv) * s.head_dim;
        double dot = 0;
        for (std::size_t d = 0; d < s.head_dim; ++d) dot += static_cast<double>(query[d]) * from_bf16(key[d]);
        scores[p] = dot * s.scale;
        top = std::max(top, scores[p]);
      }
      double total = 0;
      for (std::size_t p = 0; p < keys; ++p) {
        scores[p] = std::exp(scores[p] - top);
        total += scores[p];
      }
      float* result = out.data() + (j * s.heads + h) * s.head_dim;
      for (std::size_t d = 0; d < s.head_dim; ++d) {
        double sum = 0;
        for (std::size_t p = 0; p < keys; ++p) {
          sum += scores[p] * from_bf16(v_cache[(p * s.kv_heads + kv) * s.head_dim + d]);
        }
        result[d] = static_cast<float>(sum / total);
      }
    }
  }
  return Ok{};
}

// ---------------------------------------------------------------------------------------------
// Fusion, emulating the kernels' phases on the CPU.

namespace {

namespace fm = fusion_math;

std::uint32_t weights_status(std::span<const std::uint32_t> weights) {
  std::uint64_t sum = 0;
  for (const std::uint32_t w : weights) sum += w;
  return sum == (std::uint64_t{1} << fm::weight_shift) ? 0u : fm::status_weights_not_unit;
}

// Sum and deficit holder of out, then the deficit added (the kernels' last phase).
std::uint32_t place_deficit(std::span<std::uint32_t> out) {
  std::uint64_t sum = 0;
  fm::Heaviest holder{out[0], 0};
  for (std::size_t t = 0; t < out.size(); ++t) {
    sum += out[t];
    holder = fm::heavier(holder, fm::Heaviest{out[t], static_cast<std::uint32_t>(t)});
  }
  if (sum > fm::prob_unit || fm::prob_unit - sum >= out.size()) return fm::status_bad_deficit;
  out[holder.index] += static_cast<std::uint32_t>(fm::prob_unit - sum);
  return 0;
}

bool shapes_ok(std::span<const std::uint32_t> weights, std::span<const std::uint32_t> distributions,
               std::span<std::uint32_t> out) {
  return !weights.empty() && !out.empty() && distributions.size() == weights.size() * out.size();
}

}  // namespace

std::uint32_t fuse_mean_emulated(std::span<const std::uint32_t> weights, std::span<const std::uint32_t> distributions,
                                 std::span<std::uint32_t> out) {
  if (!shapes_ok(weights, distributions, out)) return fm::status_bad_deficit;
  const std::uint32_t status = weights_status(weights);
  if (status != 0) return status;
  const auto n = static_cast<std::uint32_t>(weights.size());
  const auto vocabulary = static_cast<std::uint32_t>(out.size());
  for (std::uint32_t t = 0; t < vocabulary; ++t) {
    out[t] = fm::mean_entry(weights.data(), distributions.data(), n, vocabulary, t);
  }
  return place_deficit(out);
}

std::uint32_t fuse_sctt_emulated(std::span<const std::uint32_t> weights, std::span<const std::uint32_t> distributions,
                                 std::span<std::uint32_t> out) {
  if (!shapes_ok(weights, distributions, out)) return fm::status_bad_deficit;
  const std::uint32_t status = weights_status(weights);
  if (status != 0) return status;
  const auto n = static_cast<std::uint32_t>(weights.size());
  const auto vocabulary = static_cast<std::uint32_t>(out.size());

  bool unanimous = true;
  for (std::uint32_t i = 1; i < n && unanimous; ++i) {
    unanimous = std::equal(distributions.begin(), distributions.begin() + vocabulary,
                           distributions.begin() + std::ptrdiff_t{i} * vocabulary);
  }
  if (unanimous) {
    std::copy(distributions.begin(), distributions.begin() + vocabulary, out.begin());
    std::uint64_t sum = 0;
    for (const std::uint32_t p : out) sum += p;
    return sum == fm::prob_unit ? 0u : fm::status_bad_deficit;
  }

  std::vector<std::int32_t> level(vocabulary);
  std::int32_t level_max = fm::log2_min;
  for (std::uint32_t t = 0; t < vocabulary; ++t) {
    level[t] = fm::sctt_level(weights.data(), distributions.data(), n, vocabulary, t);
    level_max = std::max(level_max, level[t]);
  }
  std::uint64_t total = 0;
  for (std::uint32_t t = 0; t < vocabulary; ++t) {
    out[t] = fm::exp2_q31(level[t] - level_max);
    total += out[t];
  }
  for (std::uint32_t t = 0; t < vocabulary; ++t) out[t] = fm::normalised_entry(out[t], total);
  return place_deficit(out);
}

}  // namespace bf::gpu::ref
