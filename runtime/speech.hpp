// Speech for Butterfly's answers and events (issue 8, "Audio"): text is split into sentences and each
// sentence is spoken by espeak-ng as soon as it is ready, so the first words start before the whole
// text is synthesised. Output goes to a WAV file, to the audio device (aplay or paplay), or both.
// espeak-ng runs as a child process (posix_spawn, no shell); nothing here links a speech library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "runtime/wav.hpp"

namespace bf::runtime::audio {

inline constexpr std::size_t speech_text_bytes_max = 64 * 1024;  // one answer, not a book
inline constexpr std::size_t speech_sentences_max = 512;

// When the first audio came out, for the latency benchmark. Unix milliseconds (system clock), so
// another process can compare them with its own submission time.
struct SpeakTimings {
  double start_unix_ms = 0;          // speak_stream entered
  double first_write_unix_ms = 0;    // the first sentence's samples reached the file or the player
  double leading_silence_ms = 0;     // silence before the first audible sample in those samples
  std::size_t sentences = 0;
  std::size_t frames = 0;            // at the speech's sample rate
  std::uint32_t sample_rate = 0;
};

struct SpeakOptions {
  std::filesystem::path out;  // WAV file to write (all sentences, one file); empty: none
  bool replace_out = false;   // replace an existing `out` (default: an existing file is an error)
  bool play = true;           // also send each sentence to the audio device when one exists
  int words_per_minute = 175; // espeak-ng -s, 80..450
  std::string voice = "en";   // espeak-ng -v
  // Set by speak_stream: whether sound went to a device. When play was asked but no device (or no
  // aplay/paplay) exists, the result is still ok when `out` was written, and `note` says why.
  bool* played = nullptr;
  std::string* note = nullptr;
  SpeakTimings* timings = nullptr;    // optional measurements (scripts/bench-accessibility)
};

// Splits text at sentence ends (. ! ? followed by space or end, and newlines); trims; drops empty
// pieces; long sentences are cut at a word boundary so each stays short enough to start quickly.
std::vector<std::string> split_sentences(std::string_view text);

// Speaks the sentences in order, each synthesised and played (or appended to `out`) before the
// next is synthesised. Errors: espeak-ng missing ("install the Debian package espeak-ng"), the
// output file cannot be written, or neither an output file nor an audio device is available.
core::Status speak_stream(std::span<const std::string> sentences, const SpeakOptions& options);

// split_sentences + speak_stream, with the size limits checked first.
core::Status speak_text(std::string_view text, const SpeakOptions& options);

// One sentence through espeak-ng (--stdout), as PCM (22050 Hz mono with the usual voices).
core::Result<Pcm> synthesize(std::string_view sentence, const SpeakOptions& options);

// The audio player for this machine: aplay when /dev/snd has a playback device, else paplay when
// a PulseAudio server socket exists; empty when neither (`why` then says what is missing).
std::vector<std::string> find_player(std::uint32_t sample_rate, std::uint16_t channels, std::string* why);

// Plays PCM on the audio device (find_player); an error saying why when there is none.
core::Status play_pcm(const Pcm& pcm);

// The full path of `name` found on PATH, or empty.
std::filesystem::path find_program(std::string_view name);

}  // namespace bf::runtime::audio
