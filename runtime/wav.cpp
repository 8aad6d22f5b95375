#include "runtime/wav.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "runtime/crypto.hpp"

namespace bf::runtime::audio {
namespace {

using core::Errc;
using core::Error;
using Bytes = std::vector<std::uint8_t>;

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xFFu));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>((v >> shift) & 0xFFu));
}
std::uint16_t get_u16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}
std::uint32_t get_u32(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | (static_cast<std::uint32_t>(b[at + 1]) << 8) |
         (static_cast<std::uint32_t>(b[at + 2]) << 16) | (static_cast<std::uint32_t>(b[at + 3]) << 24);
}
bool tag_is(std::span<const std::uint8_t> b, std::size_t at, std::string_view tag) {
  return std::memcmp(b.data() + at, tag.data(), 4) == 0;
}
Error bad(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

core::Status write_all(int fd, const std::uint8_t* data, std::size_t size, const std::filesystem::path& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return bad("cannot write " + path.string() + ": " + std::strerror(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return core::Ok{};
}

Bytes sample_bytes(std::span<const std::int16_t> samples) {
  Bytes out;
  out.reserve(samples.size() * 2);
  for (const std::int16_t s : samples) put_u16(out, static_cast<std::uint16_t>(s));
  return out;
}

}  // namespace

core::Status check_format(const Pcm& pcm) {
  if (pcm.sample_rate != 22050 && pcm.sample_rate != 44100) {
    return bad("sample rate " + std::to_string(pcm.sample_rate) + " Hz is not supported; use 22050 or 44100");
  }
  if (pcm.channels != 1 && pcm.channels != 2) {
    return bad(std::to_string(pcm.channels) + " channels are not supported; use 1 (mono) or 2 (stereo)");
  }
  if (pcm.samples.size() % pcm.channels != 0) return bad("the samples are not a whole number of frames");
  if (pcm.samples.size() * 2 > wav_bytes_max - wav_header_bytes) {
    return bad("the audio is longer than the " + std::to_string(wav_bytes_max >> 20) + " MiB limit of a WAV file here");
  }
  return core::Ok{};
}

std::vector<std::uint8_t> wav_header(std::uint32_t sample_rate, std::uint16_t channels, std::uint32_t data_bytes) {
  Bytes out;
  out.reserve(wav_header_bytes);
  out.insert(out.end(), {'R', 'I', 'F', 'F'});
  put_u32(out, 36 + data_bytes);
  out.insert(out.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  put_u32(out, 16);
  put_u16(out, 1);  // PCM
  put_u16(out, channels);
  put_u32(out, sample_rate);
  put_u32(out, sample_rate * channels * 2u);
  put_u16(out, static_cast<std::uint16_t>(channels * 2u));
  put_u16(out, 16);
  out.insert(out.end(), {'d', 'a', 't', 'a'});
  put_u32(out, data_bytes);
  return out;
}

core::Result<std::vector<std::uint8_t>> encode_wav(const Pcm& pcm) {
  if (auto ok = check_format(pcm); !ok) return ok.error();
  Bytes out = wav_header(pcm.sample_rate, pcm.channels, static_cast<std::uint32_t>(pcm.samples.size() * 2));
  const Bytes data = sample_bytes(pcm.samples);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

core::Result<Pcm> decode_wav(std::span<const std::uint8_t> bytes, const DecodeOptions& options) {
  if (bytes.size() > wav_bytes_max) {
    return bad("the WAV data is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
               std::to_string(wav_bytes_max));
  }
  if (bytes.size() < 12 || !tag_is(bytes, 0, "RIFF") || !tag_is(bytes, 8, "WAVE")) {
    return bad("not a WAV file: it does not start with RIFF....WAVE");
  }
  Pcm pcm;
  bool have_fmt = false;
  std::size_t at = 12;
  for (std::size_t chunk = 0; chunk < wav_chunks_max; ++chunk) {
    if (bytes.size() - at < 8) break;
    const std::uint32_t size = get_u32(bytes, at + 4);
    const std::size_t body = at + 8;
    const std::size_t left = bytes.size() - body;
    if (tag_is(bytes, at, "fmt ")) {
      if (size < 16 || size > left) return bad("the WAV fmt chunk is truncated or too short");
      const std::uint16_t format = get_u16(bytes, body);
      pcm.channels = get_u16(bytes, body + 2);
      pcm.sample_rate = get_u32(bytes, body + 4);
      const std::uint16_t bits = get_u16(bytes, body + 14);
      if (format != 1 || bits != 16) {
        return bad("the WAV file is format " + std::to_string(format) + " with " + std::to_string(bits) +
                   " bits per sample; only 16-bit PCM (format 1) is read");
      }
      if (pcm.channels != 1 && pcm.channels != 2) return bad("the WAV file has " + std::to_string(pcm.channels) + " channels; 1 or 2 are read");
      if (pcm.sample_rate != 22050 && pcm.sample_rate != 44100) {
        return bad("the WAV file is at " + std::to_string(pcm.sample_rate) + " Hz; 22050 or 44100 are read");
      }
      have_fmt = true;
    } else if (tag_is(bytes, at, "data")) {
      if (!have_fmt) return bad("the WAV data chunk comes before its fmt chunk");
      std::size_t take = size;
      if (take > left) {
        if (!options.allow_open_length) return bad("the WAV data chunk says " + std::to_string(size) + " bytes but only " + std::to_string(left) + " follow");
        take = left;
      }
      const std::size_t frame_bytes = 2u * pcm.channels;
      take -= take % frame_bytes;  // a streaming writer may stop mid-frame
      pcm.samples.resize(take / 2);
      for (std::size_t i = 0; i < pcm.samples.size(); ++i) {
        pcm.samples[i] = static_cast<std::int16_t>(get_u16(bytes, body + 2 * i));
      }
      return pcm;
    }
    if (size > left) return bad("a WAV chunk runs past the end of the file");
    at = body + size + (size & 1u);  // chunks are padded to even sizes
    if (at > bytes.size()) break;
  }
  return bad("the WAV file has no data chunk");
}

core::Status write_wav(const std::filesystem::path& path, const Pcm& pcm) {
  auto bytes = encode_wav(pcm);
  if (!bytes) return bytes.error();
  return write_new_file(path, *bytes, 0644, "WAV file");
}

core::Result<Pcm> read_wav(const std::filesystem::path& path) {
  auto bytes = read_file(path, wav_bytes_max, "WAV file");
  if (!bytes) return bytes.error();
  auto pcm = decode_wav(*bytes);
  if (!pcm) return bad(path.string() + ": " + pcm.error().message);
  return pcm;
}

WavStream::WavStream(WavStream&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)), sample_rate_(other.sample_rate_),
      channels_(other.channels_), data_bytes_(other.data_bytes_) {
  other.fd_ = -1;
}
WavStream& WavStream::operator=(WavStream&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    sample_rate_ = other.sample_rate_;
    channels_ = other.channels_;
    data_bytes_ = other.data_bytes_;
    other.fd_ = -1;
  }
  return *this;
}
WavStream::~WavStream() {
  if (fd_ >= 0) ::close(fd_);
}

core::Result<WavStream> WavStream::create(const std::filesystem::path& path, std::uint32_t sample_rate,
                                          std::uint16_t channels, bool replace) {
  Pcm probe{sample_rate, channels, {}};
  if (auto ok = check_format(probe); !ok) return ok.error();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL), 0644);
  if (fd < 0) {
    const int e = errno;
    if (e == EEXIST) return bad(path.string() + " already exists; remove it or choose another --out");
    return bad("cannot create " + path.string() + ": " + std::strerror(e));
  }
  WavStream s;
  s.fd_ = fd;
  s.path_ = path;
  s.sample_rate_ = sample_rate;
  s.channels_ = channels;
  const Bytes header = wav_header(sample_rate, channels, 0);
  if (auto ok = write_all(fd, header.data(), header.size(), path); !ok) return ok.error();
  return s;
}

core::Status WavStream::append(std::span<const std::int16_t> samples) {
  if (fd_ < 0) return bad("the WAV stream is closed");
  if (samples.size() % channels_ != 0) return bad("appended samples are not a whole number of frames");
  if (data_bytes_ + samples.size() * 2 > wav_bytes_max - wav_header_bytes) {
    return bad("the audio passed the " + std::to_string(wav_bytes_max >> 20) + " MiB limit of a WAV file here");
  }
  const Bytes data = sample_bytes(samples);
  if (auto ok = write_all(fd_, data.data(), data.size(), path_); !ok) return ok;
  data_bytes_ += data.size();
  return core::Ok{};
}

core::Status WavStream::finish() {
  if (fd_ < 0) return bad("the WAV stream is closed");
  const Bytes header = wav_header(sample_rate_, channels_, static_cast<std::uint32_t>(data_bytes_));
  core::Status result = core::Ok{};
  if (::lseek(fd_, 0, SEEK_SET) != 0) {
    result = bad("cannot seek in " + path_.string() + ": " + std::strerror(errno));
  } else {
    result = write_all(fd_, header.data(), header.size(), path_);
  }
  ::close(fd_);
  fd_ = -1;
  return result;
}

Pcm to_stereo_44100(const Pcm& pcm) {
  Pcm out{44100, 2, {}};
  const std::size_t frames = pcm.frames();
  const std::size_t factor = pcm.sample_rate == 22050 ? 2 : 1;
  out.samples.reserve(frames * factor * 2);
  auto at = [&](std::size_t frame, std::size_t ch) -> int {
    const std::size_t c = pcm.channels == 2 ? ch : 0;
    return pcm.samples[frame * pcm.channels + c];
  };
  for (std::size_t i = 0; i < frames; ++i) {
    for (std::size_t k = 0; k < factor; ++k) {
      for (std::size_t ch = 0; ch < 2; ++ch) {
        int v = at(i, ch);
        if (k == 1) v = i + 1 < frames ? (v + at(i + 1, ch)) / 2 : v;  // the midpoint
        out.samples.push_back(static_cast<std::int16_t>(v));
      }
    }
  }
  return out;
}

}  // namespace bf::runtime::audio
