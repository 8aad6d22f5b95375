#include "runtime/sonify.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace bf::runtime::audio {
namespace {

using core::Errc;
using core::Error;

constexpr double head_radius_m = 0.0875;
constexpr double speed_of_sound_m_s = 343.0;
constexpr double event_gain = 0.35;      // one tone's peak before mixing; several may overlap
constexpr double release_ms = 20;        // linear fade at each tone's end, so none clicks

double deg_to_rad(double deg) { return deg * std::numbers::pi / 180.0; }

// The tone's pitch at local time tau (seconds) from its start.
double frequency_at(const KindSound& s, double base_hz, double tau) {
  double f = base_hz * s.pitch_ratio;
  const double d = s.duration_ms / 1000.0;
  if (s.glide_octaves != 0) f *= std::exp2(s.glide_octaves * std::clamp(tau / d, 0.0, 1.0));
  if (s.step_ms > 0) {
    const auto step = static_cast<long>(std::floor(tau * 1000.0 / s.step_ms));
    if (s.arpeggio) {
      f *= std::pow(s.step_ratio, static_cast<double>(step));
    } else if (step % 2 == 1) {
      f *= s.step_ratio;
    }
  }
  return f;
}

double envelope_at(const KindSound& s, double tau) {
  const double t_ms = tau * 1000.0;
  if (t_ms < 0 || t_ms >= s.duration_ms) return 0;
  double a = t_ms < s.attack_ms ? t_ms / s.attack_ms : std::exp(-s.decay_per_s * (t_ms - s.attack_ms) / 1000.0);
  const double to_end = s.duration_ms - t_ms;
  if (to_end < release_ms) a *= to_end / release_ms;
  if (s.tremolo_hz > 0) a *= 0.7 + 0.3 * std::cos(2 * std::numbers::pi * s.tremolo_hz * tau);
  return a;
}

// Adds one tone to one channel of `mix` (interleaved stereo), starting at `start_s`.
void add_tone(std::vector<double>& mix, std::size_t channel, std::uint32_t sample_rate, const KindSound& s,
              double base_hz, double start_s, double gain) {
  const double sr = sample_rate;
  const std::size_t frames = mix.size() / 2;
  const auto first = static_cast<std::size_t>(std::ceil(start_s * sr));
  const auto count = static_cast<std::size_t>(std::ceil(s.duration_ms / 1000.0 * sr)) + 1;
  double amp_sum = 0;
  for (const auto& p : s.partials) amp_sum += p[1];
  if (amp_sum <= 0) return;
  double phase = 0;  // of the fundamental, in cycles
  bool started = false;
  for (std::size_t n = first; n < frames && n < first + count; ++n) {
    const double tau = static_cast<double>(n) / sr - start_s;
    const double f = frequency_at(s, base_hz, tau);
    if (!started) {
      phase = f * tau;  // the fraction of a sample since the exact start
      started = true;
    }
    const double env = envelope_at(s, tau);
    double v = 0;
    for (const auto& p : s.partials) {
      if (p[1] <= 0) break;
      if (p[0] * f >= 0.45 * sr) continue;  // above Nyquist's margin: would alias
      v += p[1] * std::sin(2 * std::numbers::pi * p[0] * phase);
    }
    mix[2 * n + channel] += gain * env * v / amp_sum;
    phase += f / sr;
  }
}

}  // namespace

std::string_view event_kind_name(EventKind kind) noexcept {
  switch (kind) {
    case EventKind::query_decided: return "query-decided";
    case EventKind::debate_started: return "debate-started";
    case EventKind::worker_slow: return "worker-slow";
    case EventKind::byzantine_detected: return "byzantine-detected";
    case EventKind::isolation: return "isolation";
    case EventKind::partition: return "partition";
    case EventKind::no_consensus: return "no-consensus";
    case EventKind::query_sent: return "query-sent";
  }
  return "unknown";
}

std::string_view event_kind_spoken(EventKind kind) noexcept {
  switch (kind) {
    case EventKind::query_decided: return "query decided";
    case EventKind::debate_started: return "debate started";
    case EventKind::worker_slow: return "worker slow";
    case EventKind::byzantine_detected: return "Byzantine worker detected";
    case EventKind::isolation: return "worker isolated";
    case EventKind::partition: return "partition: no quorum reachable";
    case EventKind::no_consensus: return "no consensus";
    case EventKind::query_sent: return "query sent";
  }
  return "unknown";
}

double latency_pitch_hz(double latency_ms) noexcept {
  if (!(latency_ms >= 0)) return 440.0;  // unknown (also NaN)
  const double decades = std::clamp(std::log10(std::max(latency_ms, 1e-9) / 10.0), 0.0, 3.0);
  return 880.0 * std::exp2(-decades * 2.0 / 3.0);
}

double worker_azimuth_deg(std::uint32_t index, std::uint32_t workers) noexcept {
  if (workers <= 1) return 0;
  return -60.0 + 120.0 * static_cast<double>(index) / static_cast<double>(workers - 1);
}

double woodworth_itd_s(double azimuth_deg) noexcept {
  const double theta = deg_to_rad(std::abs(std::clamp(azimuth_deg, -90.0, 90.0)));
  return head_radius_m / speed_of_sound_m_s * (theta + std::sin(theta));
}

Pan pan_for_azimuth(double azimuth_deg) noexcept {
  const double az = std::clamp(azimuth_deg, -90.0, 90.0);
  const double phi = deg_to_rad((az + 90.0) / 2.0);  // 0 (hard left) .. 90 (hard right)
  Pan p;
  p.left_gain = std::cos(phi);
  p.right_gain = std::sin(phi);
  const double itd = woodworth_itd_s(az);
  if (az < 0) p.right_delay_s = itd;
  if (az > 0) p.left_delay_s = itd;
  return p;
}

KindSound kind_sound(EventKind kind) noexcept {
  KindSound s;
  switch (kind) {
    case EventKind::query_decided:  // a clean bell: sine and a soft octave, quick decay
      s.duration_ms = 240;
      s.decay_per_s = 9;
      s.partials = {{{1, 1}, {2, 0.2}}};
      break;
    case EventKind::debate_started:  // a trill between two notes a major third apart
      s.duration_ms = 380;
      s.step_ms = 48;
      s.step_ratio = 1.26;
      s.decay_per_s = 2;
      s.partials = {{{1, 1}, {3, 0.11}, {5, 0.04}}};
      break;
    case EventKind::worker_slow:  // low, slow swell sliding down an octave
      s.pitch_ratio = 0.5;
      s.duration_ms = 460;
      s.glide_octaves = -1;
      s.attack_ms = 80;
      s.decay_per_s = 1.5;
      s.partials = {{{1, 1}, {2, 0.45}, {3, 0.2}}};
      break;
    case EventKind::byzantine_detected:  // a harsh rising buzz (odd harmonics) with fast tremolo
      s.duration_ms = 400;
      s.glide_octaves = 0.5;
      s.attack_ms = 3;
      s.decay_per_s = 1;
      s.tremolo_hz = 14;
      s.partials = {{{1, 1}, {3, 0.33}, {5, 0.2}, {7, 0.14}, {9, 0.11}, {11, 0.09}}};
      break;
    case EventKind::isolation:  // three falling notes (fourths), bright sawtooth
      s.pitch_ratio = 1.5;
      s.duration_ms = 500;
      s.step_ms = 165;
      s.step_ratio = 0.75;
      s.arpeggio = true;
      s.decay_per_s = 1.5;
      s.partials = {{{1, 1}, {2, 0.5}, {3, 0.33}, {4, 0.25}, {5, 0.2}, {6, 0.17}}};
      break;
    case EventKind::partition:  // a low metallic clang: inharmonic partials, long ring
      s.pitch_ratio = 0.75;
      s.duration_ms = 650;
      s.attack_ms = 1;
      s.decay_per_s = 4;
      s.partials = {{{1, 1}, {2.76, 0.6}, {5.40, 0.35}, {8.93, 0.2}}};
      break;
    case EventKind::query_sent:  // a short soft tick two octaves up: out, not yet answered
      s.pitch_ratio = 4;
      s.duration_ms = 70;
      s.attack_ms = 2;
      s.decay_per_s = 40;
      s.partials = {{{1, 0.6}}};
      break;
    case EventKind::no_consensus:  // two hollow notes falling a semitone, unresolved
      s.duration_ms = 420;
      s.step_ms = 210;
      s.step_ratio = 0.944;
      s.arpeggio = true;
      s.decay_per_s = 1;
      s.attack_ms = 15;
      s.partials = {{{1, 1}, {2, 0.6}, {4, 0.3}}};
      break;
  }
  return s;
}

std::vector<double> layout_onsets(std::span<const Event> events, const RenderOptions& options) {
  std::vector<double> onsets;
  onsets.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i == 0) {
      onsets.push_back(options.lead_in_ms);
      continue;
    }
    const double gap = (events[i].time_ms - events[i - 1].time_ms) / options.time_scale;
    onsets.push_back(onsets.back() + std::clamp(gap, options.min_gap_ms, options.max_gap_ms));
  }
  return onsets;
}

core::Result<Pcm> render_events(std::span<const Event> events, const RenderOptions& options) {
  auto bad = [](std::string m) { return Error{Errc::invalid_argument, std::move(m)}; };
  if (events.size() > events_max) {
    return bad(std::to_string(events.size()) + " events are more than the " + std::to_string(events_max) +
               " one rendering takes; render a shorter log or part of it");
  }
  if (options.workers == 0 || options.workers > workers_max) {
    return bad("--workers must be 1.." + std::to_string(workers_max));
  }
  if (options.sample_rate != 22050 && options.sample_rate != 44100) return bad("the sample rate must be 22050 or 44100");
  if (!(options.time_scale > 0) || !(options.min_gap_ms >= 0) || !(options.max_gap_ms >= options.min_gap_ms) ||
      !(options.lead_in_ms >= 0) || !(options.tail_ms >= 0) || options.max_gap_ms > 60000 || options.lead_in_ms > 60000 ||
      options.tail_ms > 60000) {
    return bad("time scale must be > 0, 0 <= min gap <= max gap <= 60000 ms, lead-in and tail 0..60000 ms");
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.worker && *e.worker >= options.workers) {
      return bad("event " + std::to_string(i) + " names worker " + std::to_string(*e.worker) + " but there are only " +
                 std::to_string(options.workers) + " workers; pass the cluster's --workers");
    }
    if (!std::isfinite(e.time_ms) || (i > 0 && e.time_ms < events[i - 1].time_ms)) {
      return bad("event " + std::to_string(i) + " has a time before the event preceding it; events must be in time order");
    }
  }
  const std::vector<double> onsets = layout_onsets(events, options);
  double end_ms = options.lead_in_ms;
  for (std::size_t i = 0; i < events.size(); ++i) {
    end_ms = std::max(end_ms, onsets[i] + kind_sound(events[i].kind).duration_ms);
  }
  end_ms += 1.0 + options.tail_ms;  // the ITD is under a millisecond
  const double sr = options.sample_rate;
  const auto frames = static_cast<std::size_t>(std::ceil(end_ms / 1000.0 * sr));
  if (frames * 4 > wav_bytes_max - wav_header_bytes) return bad("the rendering would be longer than a WAV file here may be");
  std::vector<double> mix(frames * 2, 0.0);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const KindSound s = kind_sound(e.kind);
    const Pan pan = e.worker ? pan_for_azimuth(worker_azimuth_deg(*e.worker, options.workers)) : pan_for_azimuth(0);
    const double start_s = onsets[i] / 1000.0;
    const double base = latency_pitch_hz(e.latency_ms);
    add_tone(mix, 0, options.sample_rate, s, base, start_s + pan.left_delay_s, event_gain * pan.left_gain);
    add_tone(mix, 1, options.sample_rate, s, base, start_s + pan.right_delay_s, event_gain * pan.right_gain);
  }
  double peak = 0;
  for (const double v : mix) peak = std::max(peak, std::abs(v));
  const double scale = peak > 0.98 ? 0.98 / peak : 1.0;  // overlapping tones: scale all, never clip
  Pcm pcm{options.sample_rate, 2, {}};
  pcm.samples.resize(mix.size());
  for (std::size_t i = 0; i < mix.size(); ++i) {
    pcm.samples[i] = static_cast<std::int16_t>(std::lround(mix[i] * scale * 32767.0));
  }
  return pcm;
}

std::vector<Event> incident_events(std::uint32_t worker) {
  return {
      Event{0, EventKind::byzantine_detected, worker, 120},
      Event{300, EventKind::worker_slow, worker, 2500},
      Event{600, EventKind::debate_started, std::nullopt, 300},
      Event{1000, EventKind::isolation, worker, 300},
      Event{1500, EventKind::query_decided, std::nullopt, 400},
  };
}

}  // namespace bf::runtime::audio
