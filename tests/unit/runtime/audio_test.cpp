// Audio (issue 8): WAV round trip and its bounds checks, spatial placement measured on the
// synthesized PCM (channel energy and onset), distinct spectra per event kind, latency -> pitch
// measured by zero crossings, events from the example certificate log, sentence splitting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

#include "runtime/cluster_sound.hpp"
#include "runtime/sonify.hpp"
#include "runtime/speech.hpp"
#include "runtime/wav.hpp"

namespace bf::runtime::audio {
namespace {

std::vector<double> channel(const Pcm& pcm, std::size_t ch, std::size_t from = 0, std::size_t to = SIZE_MAX) {
  std::vector<double> out;
  for (std::size_t i = from; i < pcm.frames() && i < to; ++i) out.push_back(pcm.samples[i * pcm.channels + ch] / 32768.0);
  return out;
}
double energy(const std::vector<double>& x) {
  double e = 0;
  for (const double v : x) e += v * v;
  return e;
}
// The first sample at or above `threshold` (a fraction of full scale), or SIZE_MAX.
std::size_t onset(const std::vector<double>& x, double threshold) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::abs(x[i]) >= threshold) return i;
  }
  return SIZE_MAX;
}
double goertzel_power(const std::vector<double>& x, double hz, double sample_rate) {
  const double w = 2 * std::numbers::pi * hz / sample_rate;
  const double coeff = 2 * std::cos(w);
  double s1 = 0, s2 = 0;
  for (const double v : x) {
    const double s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

TEST(AudioWav, RoundTripMonoAndStereo) {
  for (const std::uint16_t ch : {std::uint16_t{1}, std::uint16_t{2}}) {
    for (const std::uint32_t rate : {22050u, 44100u}) {
      Pcm pcm{rate, ch, {}};
      for (int i = 0; i < 1000 * ch; ++i) pcm.samples.push_back(static_cast<std::int16_t>((i * 7919) % 65536 - 32768));
      auto bytes = encode_wav(pcm);
      ASSERT_TRUE(bytes.ok());
      EXPECT_EQ(bytes->size(), wav_header_bytes + pcm.samples.size() * 2);
      auto back = decode_wav(*bytes);
      ASSERT_TRUE(back.ok()) << back.error().message;
      EXPECT_EQ(*back, pcm);
    }
  }
}

TEST(AudioWav, FileRoundTripNeverOverwrites) {
  const auto dir = std::filesystem::temp_directory_path() / ("bf-audio-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "a.wav";
  std::filesystem::remove(file);
  Pcm pcm{44100, 2, {1, -1, 2, -2, 32767, -32768}};
  ASSERT_TRUE(write_wav(file, pcm).ok());
  auto back = read_wav(file);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, pcm);
  EXPECT_FALSE(write_wav(file, pcm).ok());
  // The streaming writer patches the sizes, so the result reads back exactly.
  const auto streamed = dir / "s.wav";
  std::filesystem::remove(streamed);
  auto s = WavStream::create(streamed, 44100, 2);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.value().append(std::span(pcm.samples).first(2)).ok());
  ASSERT_TRUE(s.value().append(std::span(pcm.samples).subspan(2)).ok());
  EXPECT_FALSE(s.value().append(std::span(pcm.samples).first(1)).ok());  // half a frame
  ASSERT_TRUE(s.value().finish().ok());
  auto back2 = read_wav(streamed);
  ASSERT_TRUE(back2.ok()) << back2.error().message;
  EXPECT_EQ(*back2, pcm);
  EXPECT_FALSE(WavStream::create(streamed, 44100, 2).ok());  // exists
  auto again = WavStream::create(streamed, 22050, 1, /*replace=*/true);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again.value().append(std::span(pcm.samples).first(3)).ok());
  ASSERT_TRUE(again.value().finish().ok());
  auto back3 = read_wav(streamed);
  ASSERT_TRUE(back3.ok());
  EXPECT_EQ(*back3, (Pcm{22050, 1, {1, -1, 2}}));
  std::filesystem::remove_all(dir);
}

TEST(AudioWav, ReaderRejectsBadInput) {
  Pcm pcm{22050, 1, {1, 2, 3, 4}};
  auto bytes = encode_wav(pcm).value();
  EXPECT_FALSE(decode_wav(std::span(bytes).first(10)).ok());   // no RIFF header
  EXPECT_FALSE(decode_wav(std::span(bytes).first(30)).ok());   // fmt truncated
  EXPECT_FALSE(decode_wav(std::span(bytes).first(46)).ok());   // data shorter than declared
  EXPECT_TRUE(decode_wav(std::span(bytes).first(46), {.allow_open_length = true}).ok());
  auto bad_bits = bytes;
  bad_bits[34] = 8;  // 8-bit samples
  EXPECT_FALSE(decode_wav(bad_bits).ok());
  auto bad_rate = bytes;
  bad_rate[24] = 0x40;  // 22080 Hz
  EXPECT_FALSE(decode_wav(bad_rate).ok());
  auto huge_chunk = bytes;
  huge_chunk[16] = 0xFF;  // fmt size runs past the end
  huge_chunk[17] = 0xFF;
  EXPECT_FALSE(decode_wav(huge_chunk).ok());
  EXPECT_FALSE(check_format(Pcm{48000, 2, {}}).ok());
  EXPECT_FALSE(check_format(Pcm{44100, 2, {1}}).ok());
  // An unknown chunk before the data is skipped.
  std::vector<std::uint8_t> with_list(bytes.begin(), bytes.begin() + 36);
  for (const char c : std::string("LIST")) with_list.push_back(static_cast<std::uint8_t>(c));
  with_list.insert(with_list.end(), {3, 0, 0, 0, 'a', 'b', 'c', 0});  // odd size, padded
  with_list.insert(with_list.end(), bytes.begin() + 36, bytes.end());
  auto listed = decode_wav(with_list);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_EQ(*listed, pcm);
}

TEST(AudioSpatial, PanningAndItdFollowTheWorker) {
  const double itd_60 = woodworth_itd_s(60);
  EXPECT_NEAR(itd_60, 0.0875 / 343.0 * (std::numbers::pi / 3 + std::sin(std::numbers::pi / 3)), 1e-12);
  EXPECT_LE(woodworth_itd_s(90), 0.00066);
  for (const std::uint32_t worker : {0u, 3u}) {
    RenderOptions ro;
    ro.workers = 4;
    const auto events = incident_events(worker);
    auto pcm = render_events(events, ro);
    ASSERT_TRUE(pcm.ok()) << pcm.error().message;
    const auto left = channel(*pcm, 0);
    const auto right = channel(*pcm, 1);
    const double el = energy(left), er = energy(right);
    // Each channel's onset at a tenth of its own peak: the far ear is quieter as well as later,
    // and a fixed threshold would add the level difference to the time difference.
    auto peak = [](const std::vector<double>& x) {
      double p = 0;
      for (const double v : x) p = std::max(p, std::abs(v));
      return p;
    };
    // The first event (Byzantine detected, on the worker) alone: its first 250 ms.
    const auto l0 = channel(*pcm, 0, 0, 11025), r0 = channel(*pcm, 1, 0, 11025);
    const std::size_t ol = onset(l0, 0.1 * peak(l0)), or_ = onset(r0, 0.1 * peak(r0));
    ASSERT_NE(ol, SIZE_MAX);
    ASSERT_NE(or_, SIZE_MAX);
    const double itd_samples = itd_60 * 44100;  // workers 0 and 3 of 4 sit at -60 and +60 degrees
    if (worker == 0) {
      EXPECT_GT(el, 2 * er) << "left " << el << " right " << er;
      EXPECT_LT(ol, or_);
      EXPECT_NEAR(static_cast<double>(or_ - ol), itd_samples, 1.5);
    } else {
      EXPECT_GT(er, 2 * el) << "left " << el << " right " << er;
      EXPECT_LT(or_, ol);
      EXPECT_NEAR(static_cast<double>(ol - or_), itd_samples, 1.5);
    }
  }
  // Middle workers are nearer the centre: worker 1 of 4 is left, but less so than worker 0.
  const Pan p0 = pan_for_azimuth(worker_azimuth_deg(0, 4)), p1 = pan_for_azimuth(worker_azimuth_deg(1, 4));
  EXPECT_GT(p0.left_gain / p0.right_gain, p1.left_gain / p1.right_gain);
  EXPECT_GT(p1.left_gain, p1.right_gain);
  EXPECT_NEAR(p0.left_gain * p0.left_gain + p0.right_gain * p0.right_gain, 1.0, 1e-12);  // constant power
}

TEST(AudioSonify, EachKindHasItsOwnSpectrum) {
  // Band energies at 48 log-spaced frequencies (100 Hz .. 8 kHz) of each kind's tone at one latency.
  std::vector<std::vector<double>> spectra;
  for (const auto k : all_event_kinds) {
    const Event e{0, k, std::nullopt, 100};
    RenderOptions ro;
    ro.workers = 1;
    auto pcm = render_events(std::span(&e, 1), ro);
    ASSERT_TRUE(pcm.ok());
    const auto x = channel(*pcm, 0);
    std::vector<double> s;
    double norm = 0;
    for (int b = 0; b < 48; ++b) {
      const double hz = 100 * std::pow(80.0, b / 47.0);
      s.push_back(std::sqrt(goertzel_power(x, hz, 44100)));
      norm += s.back() * s.back();
    }
    for (double& v : s) v /= std::sqrt(norm);
    spectra.push_back(s);
  }
  for (std::size_t a = 0; a < spectra.size(); ++a) {
    for (std::size_t b = a + 1; b < spectra.size(); ++b) {
      double dot = 0;
      for (std::size_t i = 0; i < spectra[a].size(); ++i) dot += spectra[a][i] * spectra[b][i];
      EXPECT_LT(dot, 0.9) << event_kind_name(all_event_kinds[a]) << " vs " << event_kind_name(all_event_kinds[b]);
    }
  }
}

TEST(AudioSonify, PitchFallsAsLatencyRises) {
  double previous = 1e9;
  for (const double latency : {10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0}) {
    const Event e{0, EventKind::query_decided, std::nullopt, latency};
    RenderOptions ro;
    ro.workers = 1;
    auto pcm = render_events(std::span(&e, 1), ro);
    ASSERT_TRUE(pcm.ok());
    // Zero crossings over the tone's first 200 ms (it lasts 240 ms).
    const auto x = channel(*pcm, 0, 0, 8820);
    const std::size_t first = onset(x, 0.001);
    std::size_t crossings = 0;
    std::size_t first_cross = 0, last_cross = 0;
    for (std::size_t i = first + 1; i < x.size(); ++i) {
      if ((x[i - 1] < 0) != (x[i] < 0)) {
        if (crossings == 0) first_cross = i;
        last_cross = i;
        ++crossings;
      }
    }
    ASSERT_GT(crossings, 10u);
    const double measured = static_cast<double>(crossings - 1) / 2.0 / (static_cast<double>(last_cross - first_cross) / 44100);
    EXPECT_NEAR(measured, latency_pitch_hz(latency), latency_pitch_hz(latency) * 0.02) << latency << " ms";
    EXPECT_LT(measured, previous);
    previous = measured;
  }
  EXPECT_DOUBLE_EQ(latency_pitch_hz(10), 880);
  EXPECT_NEAR(latency_pitch_hz(10000), 220, 1e-9);
  EXPECT_DOUBLE_EQ(latency_pitch_hz(-1), 440);
}

TEST(AudioSonify, RhythmFollowsThroughputAndInputIsChecked) {
  RenderOptions ro;
  std::vector<Event> fast, slow;
  for (int i = 0; i < 5; ++i) {
    fast.push_back(Event{i * 300.0, EventKind::query_decided, std::nullopt, 50});
    slow.push_back(Event{i * 900.0, EventKind::query_decided, std::nullopt, 50});
  }
  const auto of = layout_onsets(fast, ro), os = layout_onsets(slow, ro);
  EXPECT_DOUBLE_EQ(of[1] - of[0], 300);
  EXPECT_DOUBLE_EQ(os[1] - os[0], 900);
  std::vector<Event> burst(3, Event{0, EventKind::query_decided, std::nullopt, 50});
  EXPECT_DOUBLE_EQ(layout_onsets(burst, ro)[2], 2 * ro.min_gap_ms);
  std::vector<Event> idle = {Event{0, EventKind::query_decided, std::nullopt, 5}, Event{1e7, EventKind::partition, std::nullopt, 5}};
  EXPECT_DOUBLE_EQ(layout_onsets(idle, ro)[1], ro.max_gap_ms);

  const Event out_of_range{0, EventKind::isolation, 4u, 10};
  ro.workers = 4;
  EXPECT_FALSE(render_events(std::span(&out_of_range, 1), ro).ok());
  std::vector<Event> backwards = {Event{10, EventKind::query_decided, std::nullopt, 1}, Event{5, EventKind::query_decided, std::nullopt, 1}};
  EXPECT_FALSE(render_events(backwards, ro).ok());
  ro.workers = 0;
  EXPECT_FALSE(render_events(fast, ro).ok());
}

TEST(AudioClusterSound, ExampleLogGivesByzantineEventsForDelta) {
  // The example cluster (runtime/examples.cpp): alpha..delta, delta Byzantine; its log is the
  // certificate fuzz corpus.
  const std::filesystem::path log = std::filesystem::path(BUTTERFLY_SOURCE_DIR) / "tests/fuzz/corpus/certificate";
  auto r = events_from_log(log, 200);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->workers, 4u);
  EXPECT_EQ(r->certificates, 5u);
  std::size_t decided = 0, byzantine_delta = 0, other_byzantine = 0;
  for (const auto& e : r->events) {
    if (e.kind == EventKind::query_decided) ++decided;
    if (e.kind == EventKind::byzantine_detected) (e.worker == 3u ? byzantine_delta : other_byzantine) += 1;
  }
  EXPECT_GE(decided, 1u);
  EXPECT_GE(byzantine_delta, 1u);
  EXPECT_EQ(other_byzantine, 0u);
  for (std::size_t i = 1; i < r->events.size(); ++i) EXPECT_GE(r->events[i].time_ms, r->events[i - 1].time_ms);
  EXPECT_FALSE(events_from_log(log / "missing", 10).ok());
}

TEST(AudioClusterSound, RecordsMapToEventsInOrder) {
  core::cert::Certificate c;
  c.n = 4;
  c.outcome = core::Outcome::decided;
  c.decided_answer[0] = 1;
  c.reputation.resize(4);
  core::cert::RoundRecord r1;
  for (std::uint32_t w : {0u, 1u, 3u}) {
    core::cert::SignedAnswer a;
    a.worker = w;
    a.answer[0] = w == 3 ? 9 : 1;
    r1.answers.push_back(a);
  }
  c.rounds = {r1, r1};
  auto c2 = c;
  c2.reputation[3].isolated = true;
  c2.rounds = {r1};
  c2.outcome = core::Outcome::no_quorum;
  std::vector<LogRecord> records = {{1000, c, {}}, {1400, c2, {2}}};
  const auto ev = events_from_records(records);
  std::vector<std::pair<EventKind, std::optional<std::uint32_t>>> got;
  for (const auto& e : ev) got.emplace_back(e.kind, e.worker);
  const std::vector<std::pair<EventKind, std::optional<std::uint32_t>>> want = {
      {EventKind::debate_started, std::nullopt}, {EventKind::worker_slow, 2u}, {EventKind::byzantine_detected, 3u},
      {EventKind::query_decided, std::nullopt},  {EventKind::worker_slow, 2u}, {EventKind::byzantine_detected, 2u},
      {EventKind::isolation, 3u},                {EventKind::partition, std::nullopt}};
  EXPECT_EQ(got, want);
  EXPECT_LT(ev.front().latency_ms, 0);          // the first certificate's latency is unknown
  EXPECT_DOUBLE_EQ(ev.back().latency_ms, 400);  // then the gap since the previous one
}

TEST(AudioSpeech, SplitsIntoSentences) {
  const auto s = split_sentences("The answer is 4.2 units. Delta was outvoted!  Why?\nNext line 3.5");
  const std::vector<std::string> want = {"The answer is 4.2 units.", "Delta was outvoted!", "Why?", "Next line 3.5"};
  EXPECT_EQ(s, want);
  EXPECT_TRUE(split_sentences("  \n \t ").empty());
  const std::string long_text(1000, 'a');
  for (const auto& piece : split_sentences(long_text + " " + long_text)) EXPECT_LE(piece.size(), 300u);
}

TEST(AudioSpeech, SpeaksToAFileWhenEspeakIsInstalled) {
  if (find_program("espeak-ng").empty()) GTEST_SKIP() << "espeak-ng is not installed (Debian package espeak-ng)";
  const auto dir = std::filesystem::temp_directory_path() / ("bf-speech-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "s.wav";
  std::filesystem::remove(file);
  SpeakOptions o;
  o.out = file;
  o.play = false;
  SpeakTimings t;
  o.timings = &t;
  const std::vector<std::string> sentences = {"Query decided.", "Delta was outvoted."};
  ASSERT_TRUE(speak_stream(sentences, o).ok());
  auto pcm = read_wav(file);
  ASSERT_TRUE(pcm.ok()) << pcm.error().message;
  EXPECT_EQ(t.sentences, 2u);
  EXPECT_EQ(pcm->frames(), t.frames);
  EXPECT_GT(energy(channel(*pcm, 0)), 1.0);  // speech, not silence
  EXPECT_GE(t.first_write_unix_ms, t.start_unix_ms);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bf::runtime::audio
