#include "runtime/answer_model.hpp"
#include "runtime/sigpipe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "model/generator.hpp"
#include "model/model_paths.hpp"

extern char** environ;

namespace bf::runtime {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

Error model_error(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

// Closes a file descriptor once.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// The built-in CPU runtime: the Ask's prompt as the user message under the model's chat template.
class BuiltinModel final : public AnswerModel {
 public:
  BuiltinModel(std::unique_ptr<model::Generator> generator, std::string spec, ModelOptions options)
      : generator_(std::move(generator)), spec_(std::move(spec)), options_(std::move(options)) {}

  core::Result<ModelOutput> run(const proto::Ask& ask, std::uint64_t seed) override {
    model::GenerateRequest request;
    request.system = options_.system_prompt;
    request.prompt = ask.prompt;
    request.max_tokens = options_.max_tokens;
    request.sampling.temperature = options_.temperature;
    request.sampling.seed = seed;
    request.distribution_top_k = std::min<std::size_t>(options_.distribution_top_k, proto::distribution_entries_max);
    auto result = generator_->generate(request);
    if (!result) return model_error("model '" + spec_ + "': " + result.error().message);
    ModelOutput out;
    out.text = std::move(result->text);
    if (out.text.size() > options_.output_bytes_max) out.text.resize(options_.output_bytes_max);
    for (const auto& t : result->first_distribution) {
      out.distribution.push_back({static_cast<std::uint32_t>(t.token), t.q31});
    }
    return out;
  }
  [[nodiscard]] std::string describe() const override {
    return spec_ + " (" + std::to_string(generator_->threads()) + " threads)";
  }

 private:
  std::unique_ptr<model::Generator> generator_;
  std::string spec_;
  ModelOptions options_;
};

class ScriptModel final : public AnswerModel {
 public:
  ScriptModel(std::string path, ModelOptions options) : path_(std::move(path)), options_(options) {}

  core::Result<ModelOutput> run(const proto::Ask& ask, std::uint64_t seed) override {
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    if (::pipe2(in, O_CLOEXEC) != 0) return model_error("script: pipe failed: " + std::string(std::strerror(errno)));
    Fd in_read(in[0]), in_write(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) return model_error("script: pipe failed: " + std::string(std::strerror(errno)));
    Fd out_read(out[0]), out_write(out[1]);

    // The environment is built before spawning: nothing between fork and exec may allocate.
    std::vector<std::string> env_text;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const std::string_view v(*e);
      if (v.starts_with("BUTTERFLY_ROUND=") || v.starts_with("BUTTERFLY_QUERY_ID=") || v.starts_with("BUTTERFLY_SEED=")) {
        continue;
      }
      env_text.emplace_back(v);
    }
    env_text.push_back("BUTTERFLY_ROUND=" + std::to_string(ask.round));
    env_text.push_back("BUTTERFLY_QUERY_ID=" + hex(ask.query_id));
    env_text.push_back("BUTTERFLY_SEED=" + std::to_string(seed));
    std::vector<char*> envp;
    for (auto& s : env_text) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string path = path_;
    char* argv[] = {path.data(), nullptr};

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_read.fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_write.fd, STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    // Asio opens sockets without CLOEXEC: close every other descriptor in the child, or a
    // lingering script would hold the head's connection (and the listener) open.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    pid_t pid = 0;
    const int spawned = ::posix_spawn(&pid, path_.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      return model_error("script: cannot run " + path_ + ": " + std::strerror(spawned) +
                         "; give an executable file (chmod +x)");
    }
    in_read.reset();
    out_write.reset();
    ::fcntl(in_write.fd, F_SETFL, O_NONBLOCK);
    ::fcntl(out_read.fd, F_SETFL, O_NONBLOCK);

    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    std::string output;
    std::size_t written = 0;
    std::string problem;
    const std::string& prompt = ask.prompt;
    if (prompt.empty()) in_write.reset();
    const SigpipeBlock sigpipe_guard;  // a script that exits unread gives EPIPE, not a dead process
    while (out_read.fd >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        problem = "script: " + path_ + " ran past " + std::to_string(options_.timeout_ms) + " ms and was killed";
        break;
      }
      pollfd fds[2] = {{out_read.fd, POLLIN, 0}, {in_write.fd, POLLOUT, 0}};
      const nfds_t count = in_write.fd >= 0 ? 2 : 1;
      const int ready = ::poll(fds, count, static_cast<int>(std::min<long long>(left, 1000)));
      if (ready < 0 && errno != EINTR) {
        problem = "script: poll failed: " + std::string(std::strerror(errno));
        break;
      }
      if (count == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
        const auto n = ::write(in_write.fd, prompt.data() + written, prompt.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        // EPIPE: the script did not read its stdin; that is its business.
        if (written == prompt.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) in_write.reset();
      }
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        char buf[4096];
        const auto n = ::read(out_read.fd, buf, sizeof buf);
        if (n == 0) {
          out_read.reset();
        } else if (n > 0) {
          output.append(buf, static_cast<std::size_t>(n));
          if (output.size() > options_.output_bytes_max) {
            problem = "script: " + path_ + " wrote more than " + std::to_string(options_.output_bytes_max) +
                      " bytes and was killed";
            break;
          }
        } else if (errno != EAGAIN && errno != EINTR) {
          problem = "script: read failed: " + std::string(std::strerror(errno));
          break;
        }
      }
    }
    if (!problem.empty()) ::kill(pid, SIGKILL);
    in_write.reset();
    out_read.reset();
    // The script closed stdout; give it the rest of the budget to exit, then kill it.
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid, &status, problem.empty() ? WNOHANG : 0);
      if (r == pid || (r < 0 && errno != EINTR)) break;
      if (Clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        problem = "script: " + path_ + " closed its output but did not exit in time and was killed";
        ::waitpid(pid, &status, 0);
        break;
      }
      ::usleep(1000);
    }
    if (!problem.empty()) return model_error(problem);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return model_error("script: " + path_ + " failed (" +
                         (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                            : "killed by signal " + std::to_string(WTERMSIG(status))) +
                         ")");
    }
    return ModelOutput{std::move(output), {}};
  }

  [[nodiscard]] std::string describe() const override { return "script:" + path_; }

 private:
  std::string path_;
  ModelOptions options_;
};

// A model with no cost: the head's overhead can be measured without a model's time in it.
class InstantModel final : public AnswerModel {
 public:
  explicit InstantModel(std::string text) : text_(std::move(text)) {}
  core::Result<ModelOutput> run(const proto::Ask&, std::uint64_t) override { return ModelOutput{text_, {}}; }
  [[nodiscard]] std::string describe() const override { return "instant:" + text_; }

 private:
  std::string text_;
};

// A model with a known cost and no CPU use: what the head adds to a model's time can be measured
// exactly. Sleeping, not spinning, so that n workers on a few cores do not compete for them.
class FixedModel final : public AnswerModel {
 public:
  FixedModel(std::uint32_t ms, std::string text) : ms_(ms), text_(std::move(text)) {}
  core::Result<ModelOutput> run(const proto::Ask&, std::uint64_t) override {
    // sleep_until on the steady clock, repeated: never shorter than MS, whatever wakes the thread.
    const auto until = Clock::now() + std::chrono::milliseconds(ms_);
    while (Clock::now() < until) std::this_thread::sleep_until(until);
    return ModelOutput{text_, {}};
  }
  [[nodiscard]] std::string describe() const override { return "fixed:" + std::to_string(ms_) + ":" + text_; }

 private:
  std::uint32_t ms_;
  std::string text_;
};

// fixed:MS[:TEXT] (REST is what follows "fixed:") -> the model, or what is wrong with the spec.
core::Result<std::unique_ptr<AnswerModel>> make_fixed_model(std::string_view rest, const ModelOptions& options) {
  const auto bad = [&](const std::string& why) {
    return model_error("model 'fixed:" + std::string(rest) + "': " + why +
                       "; write fixed:MS or fixed:MS:TEXT, e.g. fixed:50 (answers \"4\" after 50 ms)");
  };
  const auto colon = rest.find(':');
  const std::string_view ms_text = rest.substr(0, colon);
  std::string text = colon == std::string_view::npos ? std::string{} : std::string(rest.substr(colon + 1));
  if (text.empty()) text = "4";
  if (ms_text.empty() || ms_text.size() > 5 || ms_text.find_first_not_of("0123456789") != std::string_view::npos) {
    return bad("MS must be a whole number of milliseconds, 0.." + std::to_string(fixed_model_ms_max));
  }
  const auto ms = static_cast<std::uint32_t>(std::stoul(std::string(ms_text)));
  if (ms > fixed_model_ms_max) return bad("MS is over " + std::to_string(fixed_model_ms_max));
  if (ms >= options.timeout_ms) {
    return bad("MS must be below the model timeout (" + std::to_string(options.timeout_ms) +
               " ms); raise --model-timeout-ms");
  }
  if (text.size() > options.output_bytes_max) return bad("the answer text is too long");
  return std::unique_ptr<AnswerModel>(std::make_unique<FixedModel>(ms, std::move(text)));
}

class OpenAiModel final : public AnswerModel {
 public:
  OpenAiModel(OpenAiEndpoint endpoint, std::string spec, ModelOptions options)
      : endpoint_(std::move(endpoint)), spec_(std::move(spec)), options_(options) {}

  core::Result<ModelOutput> run(const proto::Ask& ask, std::uint64_t seed) override {
    nlohmann::json body = {{"messages", nlohmann::json::array({{{"role", "user"}, {"content", ask.prompt}}})},
                           {"temperature", 0},
                           {"seed", seed},
                           {"stream", false}};
    if (!endpoint_.model.empty()) body["model"] = endpoint_.model;
    asio::io_context io;
    Reply reply{false, "openai: " + describe() + ": no result"};
    asio::co_spawn(io, exchange(body.dump()), [&](std::exception_ptr e, Reply r) {
      reply = e ? Reply{false, "openai: " + describe() + ": the request failed"} : std::move(r);
    });
    io.run();
    if (!reply.ok) return model_error(reply.text);
    const auto j = nlohmann::json::parse(reply.text, nullptr, false);
    if (j.is_discarded()) return model_error("openai: " + describe() + ": the response is not JSON");
    const auto* content = find_content(j);
    if (content == nullptr) {
      return model_error("openai: " + describe() + ": the response has no choices[0].message.content string");
    }
    return ModelOutput{content->get<std::string>(), {}};
  }

  [[nodiscard]] std::string describe() const override { return spec_; }

 private:
  static const nlohmann::json* find_content(const nlohmann::json& j) {
    if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return nullptr;
    const auto& c = j["choices"][0];
    if (!c.is_object() || !c.contains("message") || !c["message"].is_object()) return nullptr;
    const auto& m = c["message"];
    if (!m.contains("content") || !m["content"].is_string()) return nullptr;
    return &m["content"];
  }

  // Awaitables need a default-constructible value, which Result is not.
  struct Reply {
    bool ok = false;
    std::string text;  // the body, or the error message
  };
  static Reply fail(std::string message) { return Reply{false, std::move(message)}; }

  asio::awaitable<Reply> exchange(std::string body) {
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    beast::tcp_stream stream(ex);
    const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
    boost::system::error_code ec;
    auto await_ec = asio::redirect_error(asio::use_awaitable, ec);
    const auto results = co_await resolver.async_resolve(endpoint_.host, endpoint_.port, await_ec);
    if (ec) co_return fail("openai: cannot resolve " + endpoint_.host + ": " + ec.message());
    stream.expires_after(timeout);
    co_await stream.async_connect(results, await_ec);
    if (ec) {
      co_return fail("openai: cannot connect to " + endpoint_.host + ":" + endpoint_.port + ": " +
                            ec.message() + "; is the model server running?");
    }
    http::request<http::string_body> req{http::verb::post, endpoint_.path, 11};
    req.set(http::field::host, endpoint_.host);
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    co_await http::async_write(stream, req, await_ec);
    if (ec) co_return fail("openai: sending to " + spec_ + " failed: " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.output_bytes_max);
    co_await http::async_read(stream, buffer, parser, await_ec);
    if (ec == beast::error::timeout) {
      co_return fail("openai: " + spec_ + " did not answer within " + std::to_string(options_.timeout_ms) + " ms");
    }
    if (ec) co_return fail("openai: reading the response from " + spec_ + " failed: " + ec.message());
    const auto& res = parser.get();
    if (res.result() != http::status::ok) {
      std::string excerpt = res.body().substr(0, 200);
      co_return fail("openai: " + spec_ + " answered HTTP " + std::to_string(res.result_int()) + ": " + excerpt);
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    co_return Reply{true, res.body()};
  }

  OpenAiEndpoint endpoint_;
  std::string spec_;
  ModelOptions options_;
};

}  // namespace

core::Result<OpenAiEndpoint> parse_openai_spec(std::string_view spec) {
  const auto bad = [&](const std::string& why) {
    return model_error("model 'openai:" + std::string(spec) + "': " + why +
                       "; write openai:http://HOST:PORT[/PATH][#MODEL]");
  };
  OpenAiEndpoint e;
  std::string_view url = spec;
  if (const auto hash = url.find('#'); hash != std::string_view::npos) {
    e.model = std::string(url.substr(hash + 1));
    url = url.substr(0, hash);
  }
  if (url.starts_with("https://")) return bad("https is not supported; use plain http on a trusted network");
  if (!url.starts_with("http://")) return bad("the URL must start with http://");
  url.remove_prefix(7);
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string path = slash == std::string_view::npos ? std::string{} : std::string(url.substr(slash));
  while (!path.empty() && path.back() == '/') path.pop_back();
  const auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    e.host = std::string(authority);
    e.port = "80";
  } else {
    e.host = std::string(authority.substr(0, colon));
    e.port = std::string(authority.substr(colon + 1));
  }
  if (e.host.empty()) return bad("the host is missing");
  if (e.port.empty() || e.port.size() > 5 || e.port.find_first_not_of("0123456789") != std::string::npos) {
    return bad("the port must be a number");
  }
  if (path.ends_with("/chat/completions")) {
    e.path = path;
  } else if (path.ends_with("/v1")) {
    e.path = path + "/chat/completions";
  } else {
    e.path = path + "/v1/chat/completions";
  }
  return e;
}

core::Result<std::unique_ptr<AnswerModel>> make_answer_model(std::string_view spec, ModelOptions options) {
  if (spec.size() > model_spec_bytes_max) return model_error("the model spec is longer than 4096 bytes");
  if (options.timeout_ms == 0) return model_error("the model timeout must be at least 1 ms");
  if (spec.starts_with("script:")) {
    std::string path(spec.substr(7));
    std::error_code ec;
    if (path.empty() || !std::filesystem::is_regular_file(path, ec)) {
      return model_error("model 'script:" + path + "': no such file; give the path of an executable script");
    }
    if (::access(path.c_str(), X_OK) != 0) {
      return model_error("model 'script:" + path + "': not executable; run chmod +x " + path);
    }
    return std::unique_ptr<AnswerModel>(std::make_unique<ScriptModel>(std::filesystem::absolute(path).string(), options));
  }
  if (spec.starts_with("instant:")) {
    std::string text(spec.substr(8));
    if (text.empty()) text = "4";
    if (text.size() > options.output_bytes_max) return model_error("model 'instant:': the answer text is too long");
    return std::unique_ptr<AnswerModel>(std::make_unique<InstantModel>(std::move(text)));
  }
  if (spec.starts_with("fixed:")) return make_fixed_model(spec.substr(6), options);
  if (spec.starts_with("openai:")) {
    auto endpoint = parse_openai_spec(spec.substr(7));
    if (!endpoint) return endpoint.error();
    return std::unique_ptr<AnswerModel>(std::make_unique<OpenAiModel>(std::move(endpoint.value()), std::string(spec), options));
  }
  if (spec.starts_with("builtin:") || spec.ends_with(".gguf")) {
    auto path = model::resolve_model_spec(spec);
    if (!path) return model_error("model '" + std::string(spec) + "': " + path.error().message);
    auto generator = model::Generator::load(*path, options.compute_threads);
    if (!generator) return model_error("model '" + std::string(spec) + "': " + generator.error().message);
    return std::unique_ptr<AnswerModel>(
        std::make_unique<BuiltinModel>(std::move(generator.value()), std::string(spec), options));
  }
  return model_error("unknown model spec '" + std::string(spec) +
                     "'; use script:PATH, instant:TEXT, fixed:MS[:TEXT], openai:http://HOST:PORT[#MODEL], builtin:smollm2 or FILE.gguf");
}

}  // namespace bf::runtime
