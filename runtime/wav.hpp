// 16-bit PCM WAV files (RIFF/WAVE, format 1) for speech and sonification (issue 8, "Audio"):
// mono or stereo at 22050 or 44100 Hz. The reader checks every size against the bytes it has and
// the limits below before using it, skips chunks it does not need (LIST, fact) and accepts the
// "unknown length" data size that streaming writers such as `espeak-ng --stdout` put in the header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "core/result.hpp"

namespace bf::runtime::audio {

inline constexpr std::size_t wav_header_bytes = 44;
inline constexpr std::size_t wav_bytes_max = 256u << 20;  // ~25 minutes of 44.1 kHz stereo
inline constexpr std::size_t wav_chunks_max = 64;         // chunks the reader walks before giving up

struct Pcm {
  std::uint32_t sample_rate = 44100;  // 22050 or 44100
  std::uint16_t channels = 2;         // 1 or 2
  std::vector<std::int16_t> samples;  // interleaved: L R L R ... for stereo
  [[nodiscard]] std::size_t frames() const { return channels == 0 ? 0 : samples.size() / channels; }
  friend bool operator==(const Pcm&, const Pcm&) = default;
};

// Error unless the rate is 22050/44100, channels 1/2 and samples a whole number of frames.
core::Status check_format(const Pcm& pcm);

// The 44-byte canonical header for `data_bytes` of sample data.
std::vector<std::uint8_t> wav_header(std::uint32_t sample_rate, std::uint16_t channels, std::uint32_t data_bytes);
core::Result<std::vector<std::uint8_t>> encode_wav(const Pcm& pcm);

struct DecodeOptions {
  // A data chunk whose declared size runs past the end of the bytes is taken to end there (the
  // file was written by a stream that could not know its length). Otherwise that is an error.
  bool allow_open_length = false;
};
core::Result<Pcm> decode_wav(std::span<const std::uint8_t> bytes, const DecodeOptions& options = {});

// Whole files. write_wav never replaces an existing file.
core::Status write_wav(const std::filesystem::path& path, const Pcm& pcm);
core::Result<Pcm> read_wav(const std::filesystem::path& path);

// A WAV file written piece by piece: the header first with a zero length, samples appended as
// they come (so a reader or a timer sees the first sample as soon as it exists), the lengths
// patched on finish(). Replaces an existing file only when asked.
class WavStream {
 public:
  WavStream() = default;
  WavStream(const WavStream&) = delete;
  WavStream& operator=(const WavStream&) = delete;
  WavStream(WavStream&& other) noexcept;
  WavStream& operator=(WavStream&& other) noexcept;
  ~WavStream();

  // replace: truncate an existing file instead of refusing it.
  static core::Result<WavStream> create(const std::filesystem::path& path, std::uint32_t sample_rate,
                                        std::uint16_t channels, bool replace = false);
  core::Status append(std::span<const std::int16_t> samples);  // whole frames
  core::Status finish();                                        // patches the sizes and closes
  [[nodiscard]] std::uint64_t data_bytes() const { return data_bytes_; }

 private:
  int fd_ = -1;
  std::filesystem::path path_;
  std::uint32_t sample_rate_ = 0;
  std::uint16_t channels_ = 0;
  std::uint64_t data_bytes_ = 0;
};

// Converts to 44100 Hz stereo (each channel copied; 22050 Hz samples doubled by linear
// interpolation), so speech and tones can be joined in one file.
Pcm to_stereo_44100(const Pcm& pcm);

}  // namespace bf::runtime::audio
