// butterfly speak / sound: speech with espeak-ng, and sonification plus spatial audio of cluster
// events (issue 8; docs/accessibility.md, "Sound"). The synthesis is runtime/sonify.hpp (pure), the
// log reading runtime/cluster_sound.hpp, the speech runtime/speech.hpp.
#include <chrono>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "runtime/cluster_sound.hpp"
#include "runtime/sonify.hpp"
#include "runtime/speech.hpp"
#include "runtime/wav.hpp"

namespace bf::cli {
namespace {

namespace au = runtime::audio;

[[noreturn]] void input_error(const std::string& command, const std::string& message) {
  std::cerr << "butterfly " << command << ": " << message << "\n";
  throw Exit{exit_usage};
}
[[noreturn]] void run_error(const std::string& command, const std::string& message) {
  std::cerr << "butterfly " << command << ": " << message << "\n";
  throw Exit{exit_failed};
}

double unix_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string side_of(double azimuth) {
  if (azimuth < -1) return "left";
  if (azimuth > 1) return "right";
  return "centre";
}

// Writes the PCM to `out` or plays it; returns the unix ms when the samples were handed over.
double deliver(const std::string& command, const au::Pcm& pcm, const std::string& out) {
  if (!out.empty()) {
    if (auto ok = au::write_wav(out, pcm); !ok) input_error(command, ok.error().message);
    return unix_ms();
  }
  const double t = unix_ms();
  if (auto ok = au::play_pcm(pcm); !ok) run_error(command, ok.error().message);
  return t;
}

nlohmann::json event_json(const au::Event& e, std::uint32_t workers, double onset_ms) {
  nlohmann::json j = {{"kind", au::event_kind_name(e.kind)}, {"onset_ms", onset_ms}};
  if (e.latency_ms >= 0) j["latency_ms"] = e.latency_ms;
  j["pitch_hz"] = au::latency_pitch_hz(e.latency_ms) * au::kind_sound(e.kind).pitch_ratio;
  if (e.worker) {
    const double az = au::worker_azimuth_deg(*e.worker, workers);
    j["worker"] = *e.worker;
    j["name"] = phonetic_name(*e.worker);
    j["azimuth_deg"] = az;
  } else {
    j["azimuth_deg"] = 0;
  }
  return j;
}

void print_events(std::span<const au::Event> events, std::uint32_t workers, const au::RenderOptions& ro) {
  const auto onsets = au::layout_onsets(events, ro);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    std::cout << "  " << static_cast<long>(onsets[i]) << " ms: " << au::event_kind_spoken(e.kind);
    if (e.worker) {
      const double az = au::worker_azimuth_deg(*e.worker, workers);
      std::cout << ", worker " << *e.worker << " (" << phonetic_name(*e.worker) << "), "
                << static_cast<long>(std::lround(az)) << " degrees " << side_of(az);
    }
    if (e.latency_ms >= 0) std::cout << ", latency " << static_cast<long>(std::lround(e.latency_ms)) << " ms";
    std::cout << "\n";
  }
}

int finish_render(const std::string& command, std::span<const au::Event> events, std::uint32_t workers,
                  const au::RenderOptions& ro, const std::string& out, bool json, nlohmann::json extra,
                  const std::string& intro) {
  auto pcm = au::render_events(events, ro);
  if (!pcm) input_error(command, pcm.error().message);
  const double delivered = deliver(command, *pcm, out);
  const double seconds = static_cast<double>(pcm->frames()) / pcm->sample_rate;
  if (json) {
    nlohmann::json j = std::move(extra);
    j["out"] = out.empty() ? nlohmann::json(nullptr) : nlohmann::json(out);
    j["played"] = out.empty();
    j["seconds"] = seconds;
    j["sample_rate"] = pcm->sample_rate;
    j["channels"] = pcm->channels;
    j["workers"] = workers;
    j["delivered_unix_ms"] = delivered;
    const auto onsets = au::layout_onsets(events, ro);
    j["events"] = nlohmann::json::array();
    for (std::size_t i = 0; i < events.size(); ++i) j["events"].push_back(event_json(events[i], workers, onsets[i]));
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << intro << events.size() << " events, " << static_cast<long>(std::lround(seconds * 1000)) << " ms of stereo sound "
              << (out.empty() ? std::string("played") : "written to " + out) << ":\n";
    print_events(events, workers, ro);
  }
  return exit_ok;
}

// ---- speak ----

struct SpeakArgs {
  std::string text;
  std::string out;
  bool no_play = false;
  int rate = 175;
  std::string voice = "en";
  bool json = false;
};

int run_speak(const SpeakArgs& a) {
  const std::string cmd = "speak";
  std::string text = a.text;
  if (text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (text.size() > au::speech_text_bytes_max) {
    input_error(cmd, "the text is " + std::to_string(text.size()) + " bytes; at most " +
                         std::to_string(au::speech_text_bytes_max) + " are spoken");
  }
  const auto sentences = au::split_sentences(text);
  if (sentences.empty()) input_error(cmd, "there is nothing to say: the text has no words");
  bool played = false;
  std::string note;
  au::SpeakTimings timings;
  au::SpeakOptions o;
  o.out = a.out;
  o.play = !a.no_play;
  o.words_per_minute = a.rate;
  o.voice = a.voice;
  o.played = &played;
  o.note = &note;
  o.timings = &timings;
  if (a.no_play && a.out.empty()) input_error(cmd, "--no-play needs --out FILE.wav, or there is nowhere for the speech to go");
  if (auto ok = au::speak_stream(sentences, o); !ok) {
    // What this machine lacks (espeak-ng, an audio device) is a failure; the rest is the command line's.
    const std::string& m = ok.error().message;
    const bool missing = m.starts_with("espeak-ng is not installed") || m.starts_with("no audio device");
    (missing ? run_error : input_error)(cmd, ok.error().message);
  }
  if (a.json) {
    std::cout << nlohmann::json{{"sentences", timings.sentences},
                                {"out", a.out.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.out)},
                                {"played", played},
                                {"note", note},
                                {"seconds", timings.sample_rate == 0 ? 0.0 : static_cast<double>(timings.frames) / timings.sample_rate},
                                {"sample_rate", timings.sample_rate},
                                {"start_unix_ms", timings.start_unix_ms},
                                {"first_write_unix_ms", timings.first_write_unix_ms},
                                {"leading_silence_ms", timings.leading_silence_ms}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "Spoke " << timings.sentences << (timings.sentences == 1 ? " sentence" : " sentences");
    if (!a.out.empty()) std::cout << " to " << a.out;
    std::cout << (played ? ", played on the audio device" : "") << ".\n";
    if (!note.empty()) std::cout << "Not played: " << note << ".\n";
  }
  return exit_ok;
}

// ---- sound ----

struct RenderArgs {
  std::string log;
  std::uint32_t workers = 0;
  std::string out;
  std::size_t last = 200;
  double time_scale = 1.0;
  bool json = false;
};

int run_render(const RenderArgs& a) {
  const std::string cmd = "sound render";
  auto log = au::events_from_log(a.log, a.last);
  if (!log) input_error(cmd, log.error().message);
  const std::uint32_t workers = a.workers == 0 ? log->workers : a.workers;
  if (workers != log->workers) {
    input_error(cmd, "--workers " + std::to_string(a.workers) + " but the log's certificates have n = " +
                         std::to_string(log->workers) + "; leave --workers out or give " + std::to_string(log->workers));
  }
  au::RenderOptions ro;
  ro.workers = workers;
  ro.time_scale = a.time_scale;
  std::string intro = "Read " + std::to_string(log->certificates) + " certificates from " + a.log;
  if (log->skipped > 0) intro += " (the last " + std::to_string(log->certificates) + "; " + std::to_string(log->skipped) + " older left out)";
  return finish_render(cmd, log->events, workers, ro, a.out, a.json,
                       {{"log", a.log}, {"certificates", log->certificates}, {"skipped", log->skipped}}, intro + ".\n");
}

int run_incident(std::uint32_t worker, std::uint32_t workers, const std::string& out, bool json) {
  const std::string cmd = "sound incident";
  if (workers == 0 || workers > au::workers_max) input_error(cmd, "--workers must be 1.." + std::to_string(au::workers_max));
  if (worker >= workers) {
    input_error(cmd, "--worker " + std::to_string(worker) + " is not one of the " + std::to_string(workers) +
                         " workers (0.." + std::to_string(workers - 1) + ")");
  }
  const auto events = au::incident_events(worker);
  au::RenderOptions ro;
  ro.workers = workers;
  const std::string intro = "A Byzantine incident on worker " + std::to_string(worker) + " (" + phonetic_name(worker) + ") of " +
                            std::to_string(workers) + ", placed at " +
                            std::to_string(std::lround(au::worker_azimuth_deg(worker, workers))) + " degrees.\n";
  return finish_render(cmd, events, workers, ro, out, json, {{"incident_worker", worker}}, intro);
}

int run_tone(const std::string& kind_name, double latency, std::optional<std::uint32_t> worker, std::uint32_t workers,
             const std::string& out, bool json) {
  const std::string cmd = "sound tone";
  std::optional<au::EventKind> kind;
  std::string names;
  for (const auto k : au::all_event_kinds) {
    if (au::event_kind_name(k) == kind_name) kind = k;
    names += std::string(names.empty() ? "" : ", ") + std::string(au::event_kind_name(k));
  }
  if (!kind) input_error(cmd, "unknown --kind '" + kind_name + "'; one of: " + names);
  if (worker && *worker >= workers) input_error(cmd, "--worker must be below --workers");
  const au::Event e{0, *kind, worker, latency};
  au::RenderOptions ro;
  ro.workers = workers;
  ro.tail_ms = 0;
  return finish_render(cmd, std::span(&e, 1), workers, ro, out, json, nlohmann::json::object(), "");
}

int run_legend(const std::string& out, bool json) {
  const std::string cmd = "sound legend";
  au::Pcm all{44100, 2, {}};
  au::SpeakOptions so;
  nlohmann::json items = nlohmann::json::array();
  auto silence = [&](double ms) { all.samples.insert(all.samples.end(), 2 * static_cast<std::size_t>(ms * 44.1), 0); };
  for (const auto k : au::all_event_kinds) {
    const au::Event e{0, k, std::nullopt, -1};
    au::RenderOptions ro;
    ro.workers = 1;
    ro.tail_ms = 150;
    auto tone = au::render_events(std::span(&e, 1), ro);
    if (!tone) run_error(cmd, tone.error().message);
    auto name = au::synthesize(au::event_kind_spoken(k), so);
    if (!name) run_error(cmd, name.error().message);
    const double at = static_cast<double>(all.frames()) / 44.1;
    all.samples.insert(all.samples.end(), tone->samples.begin(), tone->samples.end());
    const auto spoken = au::to_stereo_44100(*name);
    all.samples.insert(all.samples.end(), spoken.samples.begin(), spoken.samples.end());
    silence(500);
    items.push_back({{"kind", au::event_kind_name(k)}, {"spoken", au::event_kind_spoken(k)}, {"at_ms", at}});
  }
  // The worker positions last: a four-worker cluster's places, left to right, each named.
  for (std::uint32_t w = 0; w < 4; ++w) {
    const au::Event e{0, au::EventKind::query_decided, w, -1};
    au::RenderOptions ro;
    ro.workers = 4;
    ro.tail_ms = 100;
    auto tone = au::render_events(std::span(&e, 1), ro);
    if (!tone) run_error(cmd, tone.error().message);
    auto name = au::synthesize("worker " + phonetic_name(w), so);
    if (!name) run_error(cmd, name.error().message);
    items.push_back({{"worker", w}, {"spoken", "worker " + phonetic_name(w)}, {"at_ms", static_cast<double>(all.frames()) / 44.1},
                     {"azimuth_deg", au::worker_azimuth_deg(w, 4)}});
    all.samples.insert(all.samples.end(), tone->samples.begin(), tone->samples.end());
    const auto spoken = au::to_stereo_44100(*name);
    all.samples.insert(all.samples.end(), spoken.samples.begin(), spoken.samples.end());
    silence(300);
  }
  deliver(cmd, all, out);
  if (json) {
    std::cout << nlohmann::json{{"out", out.empty() ? nlohmann::json(nullptr) : nlohmann::json(out)},
                                {"seconds", static_cast<double>(all.frames()) / 44100.0},
                                {"items", items}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "The legend: each sound, then its name" << (out.empty() ? "" : ", written to " + out) << ":\n";
    for (const auto k : au::all_event_kinds) {
      std::cout << "  " << au::event_kind_name(k) << ": " << au::event_kind_spoken(k) << "\n";
    }
    std::cout << "  then the places of four workers, alpha (left) to delta (right).\n";
  }
  return exit_ok;
}

}  // namespace

void add_sound_commands(CLI::App& app) {
  {
    auto a = std::make_shared<SpeakArgs>();
    CLI::App* speak = app.add_subcommand("speak", "Speak text with espeak-ng, sentence by sentence, to the audio device or a WAV file");
    speak->add_option("TEXT", a->text, "What to say; - reads standard input")->required();
    speak->add_option("--out", a->out, "Also write the speech to this new WAV file (never overwritten)");
    speak->add_flag("--no-play", a->no_play, "Do not use the audio device (needs --out)");
    speak->add_option("--rate", a->rate, "Words per minute, 80..450 (default 175)")->check(CLI::Range(80, 450));
    speak->add_option("--voice", a->voice, "An espeak-ng voice (default en; see espeak-ng --voices)");
    speak->add_flag("--json", a->json, "Machine-readable output, with the timings of the first audio");
    speak->footer(
        "Examples:\n"
        "  butterfly speak \"The cluster decided: 42. Delta was outvoted.\"\n"
        "  butterfly speak \"Query decided.\" --out decided.wav --no-play\n"
        "  echo \"Worker bravo is slow.\" | butterfly speak - --out slow.wav --json\n"
        "Needs the Debian package espeak-ng. With no audio device, give --out.");
    speak->callback([a] { action() = [a] { return run_speak(*a); }; });
  }
  CLI::App* sound = app.add_subcommand("sound", "Sonification and spatial audio of cluster events (WAV or the audio device)");
  sound->require_subcommand(1);
  {
    auto a = std::make_shared<RenderArgs>();
    CLI::App* render = sound->add_subcommand("render", "Turn a head's certificate log into sound: one tone per event, each worker at its own place left to right");
    render->add_option("--log", a->log, "The head's certificate log directory (the cluster's DIR/log)")->required();
    render->add_option("--workers", a->workers, "The cluster's n (default: from the certificates)");
    render->add_option("--out", a->out, "Write a new WAV file instead of playing");
    render->add_option("--last", a->last, "Only the last K certificates (default 200, at most 2000)")->check(CLI::Range(1, 2000));
    render->add_option("--time-scale", a->time_scale, "Log milliseconds per sound millisecond (default 1)")->check(CLI::PositiveNumber);
    render->add_flag("--json", a->json, "Machine-readable output: every event with its onset, pitch and azimuth");
    render->footer(
        "Examples:\n"
        "  butterfly sound render --log cluster/log --workers 4 --out cluster.wav\n"
        "  butterfly sound render --log cluster/log --last 20 --json\n"
        "Run 'butterfly sound legend' to hear what each sound means.");
    render->callback([a] { action() = [a] { return run_render(*a); }; });
  }
  {
    auto out = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* legend = sound->add_subcommand("legend", "Play each event's sound followed by its spoken name");
    legend->add_option("--out", *out, "Write a new WAV file instead of playing");
    legend->add_flag("--json", *json, "Machine-readable output");
    legend->footer("Examples:\n  butterfly sound legend\n  butterfly sound legend --out legend.wav\nNeeds espeak-ng for the names.");
    legend->callback([=] { action() = [=] { return run_legend(*out, *json); }; });
  }
  {
    auto worker = std::make_shared<std::uint32_t>(0);
    auto workers = std::make_shared<std::uint32_t>(4);
    auto out = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* incident = sound->add_subcommand("incident", "Render a synthetic Byzantine incident on one worker (tests, demos)");
    incident->add_option("--worker", *worker, "The misbehaving worker's index, 0..N-1")->required();
    incident->add_option("--workers", *workers, "The cluster's n (default 4)");
    incident->add_option("--out", *out, "Write a new WAV file instead of playing");
    incident->add_flag("--json", *json, "Machine-readable output");
    incident->footer(
        "Examples:\n"
        "  butterfly sound incident --worker 0 --workers 4 --out left.wav\n"
        "  butterfly sound incident --worker 3 --workers 4 --out right.wav --json");
    incident->callback([=] { action() = [=] { return run_incident(*worker, *workers, *out, *json); }; });
  }
  {
    auto kind = std::make_shared<std::string>();
    auto latency = std::make_shared<double>(-1);
    auto worker = std::make_shared<std::optional<std::uint32_t>>();
    auto workers = std::make_shared<std::uint32_t>(4);
    auto out = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* tone = sound->add_subcommand("tone", "Play or write one event's tone");
    tone->add_option("--kind", *kind, "query-decided, debate-started, worker-slow, byzantine-detected, isolation, partition or no-consensus")
        ->required();
    tone->add_option("--latency", *latency, "Latency in ms, sets the pitch (default: unknown, 440 Hz)");
    tone->add_option("--worker", *worker, "Place it at this worker (default: centre)");
    tone->add_option("--workers", *workers, "The cluster's n (default 4)");
    tone->add_option("--out", *out, "Write a new WAV file instead of playing");
    tone->add_flag("--json", *json, "Machine-readable output");
    tone->footer(
        "Examples:\n"
        "  butterfly sound tone --kind query-decided --latency 120\n"
        "  butterfly sound tone --kind byzantine-detected --worker 3 --out byz.wav");
    tone->callback([=] { action() = [=] { return run_tone(*kind, *latency, *worker, *workers, *out, *json); }; });
  }
}

}  // namespace bf::cli
