#include "runtime/speech.hpp"
#include "runtime/sigpipe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <system_error>

extern char** environ;

namespace bf::runtime::audio {
namespace {

using core::Errc;
using core::Error;

constexpr std::size_t sentence_bytes_max = 300;   // longer ones are cut at a space
constexpr int synth_timeout_ms = 30000;           // one sentence
constexpr std::size_t speech_pcm_bytes_max = 32u << 20;
constexpr std::string_view install_hint =
    "espeak-ng is not installed; install the Debian package espeak-ng (apt-get install espeak-ng)";

Error bad(std::string m) { return Error{Errc::invalid_argument, std::move(m)}; }

double unix_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = o.fd;
      o.fd = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct Child {
  pid_t pid = -1;
  Fd in;   // its stdin (ours to write), when asked for
  Fd out;  // its stdout, when asked for
  Fd err;  // its stderr, when asked for
};

// Starts argv[0] (a full path) with the pipes asked for; other descriptors closed in the child.
core::Result<Child> spawn(const std::vector<std::string>& args, bool pipe_in, bool pipe_out, bool pipe_err) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if ((pipe_in && ::pipe2(in, O_CLOEXEC) != 0) || (pipe_out && ::pipe2(out, O_CLOEXEC) != 0) ||
      (pipe_err && ::pipe2(err, O_CLOEXEC) != 0)) {
    const int e = errno;
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return bad(std::string("pipe failed: ") + std::strerror(e));
  }
  Fd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
  std::vector<std::string> owned = args;
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (pipe_in) posix_spawn_file_actions_adddup2(&actions, in_r.fd, STDIN_FILENO);
  else posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (pipe_out) posix_spawn_file_actions_adddup2(&actions, out_w.fd, STDOUT_FILENO);
  else posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (pipe_err) posix_spawn_file_actions_adddup2(&actions, err_w.fd, STDERR_FILENO);
  else posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, owned[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return bad("cannot run " + owned[0] + ": " + std::strerror(rc));
  Child c;
  c.pid = pid;
  c.in = std::move(in_w);
  c.out = std::move(out_r);
  c.err = std::move(err_r);
  return c;
}

int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

// Writes to a pipe with SIGPIPE blocked for this thread, so a player that quits gives an error
// here instead of killing the process.
bool write_pipe(int fd, const std::uint8_t* data, std::size_t size) {
  const SigpipeBlock guard;
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool has_playback_device() {
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/dev/snd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with("pcmC") && name.ends_with("p")) return true;
  }
  return false;
}

bool has_pulse_server() {
  if (const char* s = std::getenv("PULSE_SERVER"); s != nullptr && *s != '\0') return true;
  const char* dir = std::getenv("XDG_RUNTIME_DIR");
  std::error_code ec;
  return dir != nullptr && std::filesystem::exists(std::filesystem::path(dir) / "pulse" / "native", ec);
}

// The first sample whose magnitude passes -40 dBFS, in milliseconds.
double leading_silence_ms(const Pcm& pcm) {
  constexpr int threshold = 328;  // 0.01 of full scale
  for (std::size_t i = 0; i < pcm.samples.size(); ++i) {
    if (std::abs(static_cast<int>(pcm.samples[i])) >= threshold) {
      return static_cast<double>(i / pcm.channels) * 1000.0 / pcm.sample_rate;
    }
  }
  return static_cast<double>(pcm.frames()) * 1000.0 / pcm.sample_rate;
}

std::string trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  std::size_t a = 0, b = s.size();
  while (a < b && is_space(s[a])) ++a;
  while (b > a && is_space(s[b - 1])) --b;
  return std::string(s.substr(a, b - a));
}

}  // namespace

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> out;
  auto emit = [&](std::string_view piece) {
    std::string s = trim(piece);
    // Control characters would reach espeak-ng as noise or markup; spaces are enough.
    for (char& c : s) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    while (s.size() > sentence_bytes_max) {
      std::size_t cut = s.rfind(' ', sentence_bytes_max);
      if (cut == std::string::npos || cut == 0) {
        cut = sentence_bytes_max;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0u) == 0x80u) --cut;  // UTF-8 boundary
      }
      std::string head = trim(std::string_view(s).substr(0, cut));
      if (!head.empty()) out.push_back(std::move(head));
      s = trim(std::string_view(s).substr(cut));
    }
    if (!s.empty()) out.push_back(std::move(s));
  };
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool end_mark = (c == '.' || c == '!' || c == '?') &&
                          (i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n' || text[i + 1] == '\t');
    if (end_mark || c == '\n') {
      emit(text.substr(start, i + 1 - start));
      start = i + 1;
    }
  }
  if (start < text.size()) emit(text.substr(start));
  return out;
}

std::filesystem::path find_program(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    std::filesystem::path candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

std::vector<std::string> find_player(std::uint32_t sample_rate, std::uint16_t channels, std::string* why) {
  const std::string rate = std::to_string(sample_rate);
  const std::string ch = std::to_string(channels);
  const auto aplay = find_program("aplay");
  if (!aplay.empty() && has_playback_device()) {
    return {aplay.string(), "-q", "-t", "raw", "-f", "S16_LE", "-r", rate, "-c", ch, "-"};
  }
  const auto paplay = find_program("paplay");
  if (!paplay.empty() && has_pulse_server()) {
    return {paplay.string(), "--raw", "--format=s16le", "--rate=" + rate, "--channels=" + ch};
  }
  if (why != nullptr) {
    *why = "no audio device: /dev/snd has no playback device" + std::string(aplay.empty() ? " (and aplay is not installed)" : "") +
           " and no PulseAudio server is reachable" + std::string(paplay.empty() ? " (paplay is not installed)" : "");
  }
  return {};
}

core::Result<Pcm> synthesize(std::string_view sentence, const SpeakOptions& options) {
  const auto espeak = find_program("espeak-ng");
  if (espeak.empty()) return Error{Errc::invalid_argument, std::string(install_hint)};
  if (options.words_per_minute < 80 || options.words_per_minute > 450) return bad("the speech rate must be 80..450 words per minute");
  if (options.voice.empty() || options.voice.size() > 64 ||
      !std::all_of(options.voice.begin(), options.voice.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '_';
      })) {
    return bad("the voice '" + options.voice + "' is not a voice name (letters, digits, - + _); see espeak-ng --voices");
  }
  if (sentence.size() > speech_text_bytes_max) return bad("the sentence is longer than " + std::to_string(speech_text_bytes_max) + " bytes");
  auto child = spawn({espeak.string(), "--stdout", "-b", "1", "-v", options.voice, "-s",
                      std::to_string(options.words_per_minute)},
                     true, true, true);
  if (!child) return child.error();
  Child& ch = child.value();
  // A sentence is far smaller than a pipe's buffer, so writing it all before reading cannot block.
  const std::string text = std::string(sentence) + "\n";
  write_pipe(ch.in.fd, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  ch.in.reset();
  std::vector<std::uint8_t> wav;
  std::string err;
  bool too_big = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(synth_timeout_ms);
  while (ch.out.fd >= 0 || ch.err.fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || too_big) break;
    pollfd fds[2] = {{ch.out.fd, POLLIN, 0}, {ch.err.fd, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (int k = 0; k < 2; ++k) {
      if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      std::uint8_t buf[16384];
      const ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
      if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        (k == 0 ? ch.out : ch.err).reset();
      } else if (k == 0) {
        wav.insert(wav.end(), buf, buf + n);
        too_big = wav.size() > speech_pcm_bytes_max;
      } else if (err.size() < 4096) {
        err.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
      }
    }
  }
  const bool unfinished = ch.out.fd >= 0 || ch.err.fd >= 0;
  if (unfinished) ::kill(ch.pid, SIGKILL);
  const int status = wait_child(ch.pid);
  if (too_big) return bad("espeak-ng produced more than " + std::to_string(speech_pcm_bytes_max >> 20) + " MiB for one sentence");
  if (unfinished) return bad("espeak-ng did not finish one sentence in " + std::to_string(synth_timeout_ms / 1000) + " s and was killed");
  if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return bad("espeak-ng failed" + (trim(err).empty() ? std::string() : ": " + trim(err)) +
               " (check --voice against espeak-ng --voices)");
  }
  auto pcm = decode_wav(wav, DecodeOptions{.allow_open_length = true});
  if (!pcm) return bad("espeak-ng's output: " + pcm.error().message);
  return pcm;
}

core::Status speak_stream(std::span<const std::string> sentences, const SpeakOptions& options) {
  SpeakTimings timings;
  timings.start_unix_ms = unix_ms();
  if (options.played != nullptr) *options.played = false;
  if (sentences.size() > speech_sentences_max) {
    return bad(std::to_string(sentences.size()) + " sentences are more than the " + std::to_string(speech_sentences_max) + " spoken at once");
  }
  if (find_program("espeak-ng").empty()) return Error{Errc::invalid_argument, std::string(install_hint)};
  std::string why;
  std::optional<Child> player;
  std::optional<WavStream> file;
  bool player_failed = false;
  for (const auto& sentence : sentences) {
    auto pcm = synthesize(sentence, options);
    if (!pcm) return pcm.error();
    if (pcm->samples.empty()) continue;
    if (timings.sentences == 0) {
      // espeak-ng starts each utterance with ~17 ms of silence; keeping only 5 ms of it brings the
      // first word that much sooner without clicking into it.
      const double lead = leading_silence_ms(*pcm);
      if (lead > 5.0) {
        const auto drop = static_cast<std::size_t>((lead - 5.0) * pcm->sample_rate / 1000.0) * pcm->channels;
        pcm.value().samples.erase(pcm.value().samples.begin(), pcm.value().samples.begin() + static_cast<std::ptrdiff_t>(drop));
      }
      timings.sample_rate = pcm->sample_rate;
      timings.leading_silence_ms = leading_silence_ms(*pcm);
      if (options.play) {
        auto args = find_player(pcm->sample_rate, pcm->channels, &why);
        if (!args.empty()) {
          auto c = spawn(args, true, false, false);
          if (c) player = std::move(c.value());
          else why = c.error().message;
        }
      }
      if (!options.out.empty()) {
        auto s = WavStream::create(options.out, pcm->sample_rate, pcm->channels, options.replace_out);
        if (!s) return s.error();
        file = std::move(s.value());
      }
      if (!player && !file) {
        return bad((why.empty() ? std::string("no audio output was asked for") : why) +
                   "; give --out FILE.wav to write the speech to a file");
      }
    }
    if (file) {
      if (auto ok = file->append(pcm->samples); !ok) return ok;
    }
    if (player && !player_failed) {
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(pcm->samples.data());  // S16_LE on this target
      player_failed = !write_pipe(player->in.fd, bytes, pcm->samples.size() * 2);
    }
    if (timings.sentences == 0) timings.first_write_unix_ms = unix_ms();
    ++timings.sentences;
    timings.frames += pcm->frames();
  }
  if (file) {
    if (auto ok = file->finish(); !ok) return ok;
  }
  bool played = false;
  if (player) {
    player->in.reset();
    const int status = wait_child(player->pid);
    played = !player_failed && status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!played) why = "the audio player failed; the speech was not played";
  }
  if (options.played != nullptr) *options.played = played;
  if (options.note != nullptr) *options.note = options.play && !played ? why : std::string();
  if (options.timings != nullptr) *options.timings = timings;
  if (timings.sentences == 0) return bad("there was nothing to say: the text has no words");
  return core::Ok{};
}

core::Status play_pcm(const Pcm& pcm) {
  if (auto ok = check_format(pcm); !ok) return ok;
  std::string why;
  const auto args = find_player(pcm.sample_rate, pcm.channels, &why);
  if (args.empty()) return bad(why + "; give --out FILE.wav to write the sound to a file");
  auto c = spawn(args, true, false, false);
  if (!c) return c.error();
  Child& player = c.value();
  const bool wrote = write_pipe(player.in.fd, reinterpret_cast<const std::uint8_t*>(pcm.samples.data()), pcm.samples.size() * 2);
  player.in.reset();
  const int status = wait_child(player.pid);
  if (!wrote || status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return bad("the audio player " + args[0] + " failed");
  return core::Ok{};
}

core::Status speak_text(std::string_view text, const SpeakOptions& options) {
  if (text.size() > speech_text_bytes_max) {
    return bad("the text is " + std::to_string(text.size()) + " bytes; at most " + std::to_string(speech_text_bytes_max) + " are spoken");
  }
  const auto sentences = split_sentences(text);
  return speak_stream(sentences, options);
}

}  // namespace bf::runtime::audio
