// Sonification and spatial audio of cluster events (issue 8, "Audio"; docs/accessibility.md,
// "Sound"). Pure: an event list in, stereo PCM out; no clock, no randomness, no I/O, so the same
// events always give the same samples and tests can measure them.
//
// - One tone family per event kind, each with its own timbre (harmonic recipe) and contour (how
//   pitch and loudness move), listed in kind_sound().
// - Pitch for latency: latency_pitch_hz(), 880 Hz at 10 ms falling 2/3 octave per decade to
//   220 Hz at 10 s; slower is lower.
// - Rhythm for throughput: layout_onsets() keeps the events' own spacing (scaled), so more events
//   per second sound as faster onsets, within a minimum and maximum gap.
// - Space: worker i of n sits at azimuth -60 + 120 i / (n - 1) degrees (left to right; n = 1 is
//   centre). Constant-power panning (gains cos and sin of (azimuth + 90) / 2) plus the Woodworth
//   interaural time difference (a / c)(theta + sin theta), a = 8.75 cm, c = 343 m/s (<= 0.49 ms at
//   60 degrees), the far ear hearing the tone later. Events about no worker sit in the centre.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "runtime/wav.hpp"

namespace bf::runtime::audio {

enum class EventKind : std::uint8_t {
  query_decided,
  debate_started,
  worker_slow,
  byzantine_detected,
  isolation,
  partition,
  no_consensus,
  query_sent,  // `query ask --sound` at submission: the query is out, an answer will follow
};
inline constexpr std::array<EventKind, 8> all_event_kinds{
    EventKind::query_decided, EventKind::debate_started, EventKind::worker_slow, EventKind::byzantine_detected,
    EventKind::isolation,     EventKind::partition,      EventKind::no_consensus, EventKind::query_sent};
// "query-decided", "debate-started", ... (CLI and JSON); spoken_name: "query decided", ...
std::string_view event_kind_name(EventKind kind) noexcept;
std::string_view event_kind_spoken(EventKind kind) noexcept;

struct Event {
  double time_ms = 0;                   // when it happened, from any origin; non-decreasing in a list
  EventKind kind = EventKind::query_decided;
  std::optional<std::uint32_t> worker;  // membership index; none: centre
  double latency_ms = -1;               // < 0: unknown (the kind's middle pitch)
  friend bool operator==(const Event&, const Event&) = default;
};

inline constexpr std::size_t events_max = 10000;
inline constexpr std::uint32_t workers_max = 64;

// The documented mapping (see the header comment); unknown latency gives 440 Hz.
double latency_pitch_hz(double latency_ms) noexcept;

// Azimuth in degrees (-60 left .. +60 right) of worker `index` of `workers`.
double worker_azimuth_deg(std::uint32_t index, std::uint32_t workers) noexcept;
// Woodworth ITD in seconds for an azimuth in degrees (positive: the left ear hears later).
double woodworth_itd_s(double azimuth_deg) noexcept;
struct Pan {
  double left_gain = 0;
  double right_gain = 0;
  double left_delay_s = 0;   // the far ear's delay; the near ear's is 0
  double right_delay_s = 0;
};
Pan pan_for_azimuth(double azimuth_deg) noexcept;

// How each kind sounds: partials (frequency ratio, amplitude), a pitch contour and an envelope.
struct KindSound {
  double pitch_ratio = 1;        // times the latency pitch
  double duration_ms = 300;
  double glide_octaves = 0;      // pitch change over the tone (+ up, - down)
  double step_ms = 0;            // > 0: pitch alternates or steps every step_ms
  double step_ratio = 1;         // the step's pitch ratio (trill or arpeggio)
  bool arpeggio = false;         // steps accumulate (falling notes) instead of alternating
  double attack_ms = 5;
  double decay_per_s = 6;        // exponential decay after the attack
  double tremolo_hz = 0;
  std::array<std::array<double, 2>, 6> partials{};  // {ratio, amplitude}; amplitude 0 ends the list
};
KindSound kind_sound(EventKind kind) noexcept;

struct RenderOptions {
  std::uint32_t workers = 4;        // n, for the azimuths
  std::uint32_t sample_rate = 44100;
  double time_scale = 1.0;          // event-time ms per output ms
  double min_gap_ms = 220;          // closest two onsets may be
  double max_gap_ms = 1500;         // longest silence between onsets
  double lead_in_ms = 0;            // silence before the first onset
  double tail_ms = 200;             // after the last tone ends
};

// Output onset (ms) of each event: the first at lead_in, then each gap = clamp(scaled gap, min, max).
std::vector<double> layout_onsets(std::span<const Event> events, const RenderOptions& options);

// The events as 16-bit stereo PCM. Errors: a worker index >= workers, too many events, a
// decreasing time, a bad option.
core::Result<Pcm> render_events(std::span<const Event> events, const RenderOptions& options);

// A synthetic Byzantine incident on `worker` of `workers`: Byzantine detected (first, so its onset
// is the file's), the worker slow, a debate, its isolation, then the query decided in the centre.
std::vector<Event> incident_events(std::uint32_t worker);

}  // namespace bf::runtime::audio
