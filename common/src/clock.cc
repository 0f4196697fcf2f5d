#include "millrace/common/clock.h"

#include <chrono>

namespace millrace {
namespace {

class RealClock final : public Clock {
 public:
  std::int64_t NowMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

Clock* SystemClock() {
  static RealClock clock;
  return &clock;
}

}  // namespace millrace
