// Membership files (runtime/membership_file.hpp, spec/membership.md) as JSON text: what is written
// reads back the same. (Kept apart from process_test.cpp, whose Beast includes make g++ 12 under
// ASan report a false maybe-uninitialized in Beast's parser when this test is added there.)
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/examples.hpp"
#include "runtime/membership_file.hpp"

namespace bf::runtime {
namespace {

// A float temperature is written as its shortest decimal (0.2, not 0.20000000298023224, which is
// what the float itself is as a JSON double) and reads back as the very same float.
TEST(MembershipFileSpecialist, TemperatureIsWrittenShortAndReadsBackExactly) {
  auto ex = make_examples();
  ASSERT_TRUE(ex.ok());
  Membership m = ex->membership;
  const std::string id = m.record.workers[1].id;
  ASSERT_TRUE(set_worker_specialist(m, id, {"pattern", "x", 0.2F, 2}).ok());
  EXPECT_EQ(membership_json(m)["workers"][1]["specialist"]["temperature"].dump(), "0.2");
  // Every float from 0 to the limit in steps of about 0.001, and the floats on either side of
  // some of them, survives the file (dump and parse, as written and read) bit for bit.
  std::vector<float> temperatures;
  for (int i = 0; i <= 2000; ++i) temperatures.push_back(static_cast<float>(i) / 1000.0F);
  for (const float t : {0.1F, 0.2F, 0.7F, 1.3F}) {
    temperatures.push_back(std::nextafter(t, 0.0F));
    temperatures.push_back(std::nextafter(t, 2.0F));
  }
  temperatures.push_back(specialist_temperature_max);
  for (const float t : temperatures) {
    ASSERT_TRUE(set_worker_specialist(m, id, {"pattern", "x", t, 2}).ok()) << t;
    auto back = membership_from_json(nlohmann::json::parse(membership_json(m).dump()));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->specialists[1].temperature, t);  // exact, not FLOAT_EQ
  }
  EXPECT_EQ(temperature_for_json(0.5F), 0.5);
  EXPECT_EQ(temperature_for_json(0.2F), 0.2);
}

}  // namespace
}  // namespace bf::runtime
