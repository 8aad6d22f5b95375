#include "runtime/process_common.hpp"

#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <signal.h>

namespace bf::runtime::process {

StopSignals::StopSignals(asio::io_context& io) : signals_(io, SIGINT, SIGTERM) {}

void StopSignals::wait(std::function<void(int signal)> on_signal) {
  signals_.async_wait([on_signal = std::move(on_signal)](const boost::system::error_code& ec, int signal) {
    if (!ec) on_signal(signal);  // an error means the set was cancelled: the loop is ending anyway
  });
}

void stop_after_grace(asio::io_context& io, std::function<void()> last_words) {
  auto timer = std::make_shared<asio::steady_timer>(io, stop_grace);
  // The handler owns the timer, so it lives until it fires.
  timer->async_wait([&io, timer, last_words = std::move(last_words)](const boost::system::error_code&) {
    last_words();
    io.stop();
  });
}

boost::system::error_code listen_on(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return ec;
}

Result<KeyAndMembership> read_key_and_membership(const std::filesystem::path& key_file,
                                                 const std::filesystem::path& membership_file,
                                                 const std::function<void(const std::string&)>& log) {
  auto key = read_key_file(key_file);
  if (!key) return key.error();
  if (!key->warning.empty()) log(key->warning);
  auto membership = read_membership_file(membership_file);
  if (!membership) return membership.error();
  return KeyAndMembership{key->key, std::move(membership.value())};
}

}  // namespace bf::runtime::process
