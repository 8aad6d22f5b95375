// What the head and worker processes share (runtime/process_common.hpp): a SIGTERM or SIGINT
// reaches the stop handler once on the loop's thread and the loop ends a grace period later after
// the last log line; listening refuses a port already taken; the key and membership files are read
// with the key file's permission warning logged first.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/examples.hpp"
#include "runtime/process_common.hpp"

namespace bf::runtime::process {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

TEST(ProcessStop, ASignalStopsTheLoopAfterTheGraceWithTheLastWordsFirst) {
  for (const int sent : {SIGTERM, SIGINT}) {
    asio::io_context io;
    StopSignals signals(io);
    // Raised before wait(): the set has caught it since construction and delivers it to wait().
    ASSERT_EQ(::raise(sent), 0);
    std::vector<int> seen;
    std::vector<std::string> log;
    Clock::time_point stopping{};
    signals.wait([&](int signal) {
      seen.push_back(signal);
      stopping = Clock::now();
      stop_after_grace(io, [&] { log.push_back("stopped"); });
    });
    io.run_for(std::chrono::seconds(10));  // returns at io.stop(); the limit only bounds a failure
    const auto took = Clock::now() - stopping;
    EXPECT_TRUE(io.stopped());
    EXPECT_EQ(seen, std::vector<int>{sent});
    EXPECT_EQ(log, std::vector<std::string>{"stopped"});
    EXPECT_GE(took, stop_grace);
    EXPECT_LT(took, std::chrono::seconds(5));
  }
}

TEST(ProcessListen, OpensAnEphemeralPortAndRefusesOneAlreadyListenedOn) {
  asio::io_context io;
  tcp::acceptor first(io), second(io);
  ASSERT_FALSE(listen_on(first, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)));
  const auto taken = first.local_endpoint();
  EXPECT_NE(taken.port(), 0);
  const auto ec = listen_on(second, taken);
  EXPECT_EQ(ec, boost::system::errc::address_in_use) << ec.message();
}

class ProcessFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bf-process-common-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto ex = make_examples();
    ASSERT_TRUE(ex.ok()) << ex.error().message;
    examples_ = std::move(ex.value());
    std::ofstream(dir_ / "membership.json") << membership_json(examples_.membership).dump(2);
    ASSERT_TRUE(write_key_file(dir_ / "worker.key", examples_.worker_seeds[0]).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  Examples examples_;
};

TEST_F(ProcessFiles, ReadsTheKeyAndTheMembership) {
  std::vector<std::string> log;
  auto files = read_key_and_membership(dir_ / "worker.key", dir_ / "membership.json",
                                       [&](const std::string& line) { log.push_back(line); });
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(files->key.public_key, examples_.membership.record.workers[0].key);
  EXPECT_EQ(files->membership.digest, examples_.membership.digest);
  EXPECT_TRUE(log.empty());  // mode 0600: nothing to warn about
}

TEST_F(ProcessFiles, WarnsAboutAKeyOthersCanReadBeforeAMembershipError) {
  ASSERT_EQ(::chmod((dir_ / "worker.key").c_str(), 0644), 0);
  std::vector<std::string> log;
  auto files = read_key_and_membership(dir_ / "worker.key", dir_ / "absent.json",
                                       [&](const std::string& line) { log.push_back(line); });
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().message.find("absent.json"), std::string::npos) << files.error().message;
  ASSERT_EQ(log.size(), 1U);
  EXPECT_NE(log[0].find("readable by others"), std::string::npos) << log[0];
}

TEST_F(ProcessFiles, AMissingKeyFileIsTheError) {
  std::vector<std::string> log;
  auto files = read_key_and_membership(dir_ / "absent.key", dir_ / "membership.json",
                                       [&](const std::string& line) { log.push_back(line); });
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().message.find("absent.key"), std::string::npos) << files.error().message;
  EXPECT_TRUE(log.empty());
}

}  // namespace
}  // namespace bf::runtime::process
