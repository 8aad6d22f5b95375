// What the head and worker processes (head_process.*, worker_process.*) share: stopping cleanly
// on SIGINT or SIGTERM, opening a listening socket, and reading their key and membership files at
// start-up. A stop closes what the process owns (its Goodbye frames are queued), makes its state
// durable, gives the frames stop_grace to go out and then ends the event loop; the process then
// returns 0 from run_head/run_worker.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// (keep the line above first)
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "core/result.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"

namespace bf::runtime::process {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// How long a stopping process keeps its loop running so the frames it just queued go out.
constexpr std::chrono::milliseconds stop_grace{100};

// Catches SIGINT and SIGTERM from construction on (a signal that comes before wait() is kept and
// delivered by it); wait() calls on_signal(signal) once, on the loop's thread.
class StopSignals {
 public:
  explicit StopSignals(asio::io_context& io);
  void wait(std::function<void(int signal)> on_signal);

 private:
  asio::signal_set signals_;
};

// Ends io's loop stop_grace from now; last_words (the process's final log line) runs just before.
void stop_after_grace(asio::io_context& io, std::function<void()> last_words);

// Opens, binds (with SO_REUSEADDR, so a restarted process gets its port back at once) and listens.
boost::system::error_code listen_on(tcp::acceptor& acceptor, const tcp::endpoint& endpoint);

struct KeyAndMembership {
  Keypair key;
  Membership membership;
};
// A process's key file and membership file. The key file's permission warning, if any, goes to
// log before the membership is read (so it is said even when the membership is wrong).
Result<KeyAndMembership> read_key_and_membership(const std::filesystem::path& key_file,
                                                 const std::filesystem::path& membership_file,
                                                 const std::function<void(const std::string&)>& log);

}  // namespace bf::runtime::process
