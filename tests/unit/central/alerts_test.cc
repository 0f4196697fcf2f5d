// The alert rules' catalog and the state machine every alert follows (alerts.h).
#include "millrace/central/alerts.h"

#include <gtest/gtest.h>

namespace millrace::central {
namespace {

using P = AlertState::Phase;
using T = AlertTransition;
constexpr std::int64_t kS = 1000, kT0 = 1'796'000'000'000;

AlertRule Rule(double threshold, double clear, int for_s) {
  AlertRule r;
  r.kind = "backlog";
  r.threshold = threshold;
  r.clear_threshold = clear;
  r.for_s = for_s;
  return r;
}

// Feeds `values` one per `step_s` seconds from kT0 and returns each step's transition.
std::vector<T> Feed(const AlertRule& rule, bool higher_is_worse,
                    const std::vector<std::optional<double>>& values, int step_s,
                    AlertState* state) {
  std::vector<T> out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    AlertStep s = StepAlert(rule, higher_is_worse, *state, values[i],
                            kT0 + static_cast<std::int64_t>(i) * step_s * kS);
    *state = s.state;
    out.push_back(s.transition);
  }
  return out;
}

TEST(AlertStepTest, FiresOnlyOnceTheValueStayedBadForTheDelay) {
  AlertState s;
  // Bad at 0, 60, 120, 180 s with a 180 s delay: pending from 0, firing at 180.
  auto t = Feed(Rule(100, 50, 180), true, {150, 150, 150, 150, 150}, 60, &s);
  EXPECT_EQ(t, (std::vector<T>{T::kBegan, T::kNone, T::kNone, T::kFired, T::kNone}));
  EXPECT_EQ(s.phase, P::kFiring);
  EXPECT_EQ(s.pending_since_ms, kT0);
  EXPECT_EQ(s.fired_at_ms, kT0 + 180 * kS);
}

TEST(AlertStepTest, APendingAlertThatBreaksItsRunIsDroppedAndStartsOver) {
  AlertState s;
  // One value under the threshold (even above the clear one) ends the run.
  auto t = Feed(Rule(100, 50, 120), true, {150, 150, 80, 150, 150, 150}, 60, &s);
  EXPECT_EQ(t, (std::vector<T>{T::kBegan, T::kNone, T::kDropped, T::kBegan, T::kNone, T::kFired}));
  EXPECT_EQ(s.pending_since_ms, kT0 + 180 * kS);
}

TEST(AlertStepTest, WithoutADelayABadValueFiresAtOnce) {
  AlertState s;
  auto t = Feed(Rule(1, 0, 0), true, {0, 3, 3, 0}, 60, &s);
  EXPECT_EQ(t, (std::vector<T>{T::kNone, T::kFired, T::kNone, T::kResolved}));
  EXPECT_EQ(s.phase, P::kResolved);
}

TEST(AlertStepTest, AValueWaveringAroundTheThresholdDoesNotResolveAndFireAgain) {
  AlertState s;
  // Firing at 150; then 90, 110, 95, 105: between clear (50) and above the threshold (100),
  // never good: it stays firing. Only values at or under 50 for the delay resolve it.
  auto t = Feed(Rule(100, 50, 60), true, {150, 150, 90, 110, 95, 105, 40, 45, 30}, 60, &s);
  EXPECT_EQ(t, (std::vector<T>{T::kBegan, T::kFired, T::kNone, T::kNone, T::kNone, T::kNone,
                               T::kNone, T::kResolved, T::kNone}));
}

TEST(AlertStepTest, ClearingStartsOverWhenTheValueLeavesTheGoodSide) {
  AlertState s;
  // Firing at 120 s; good at 180 s, not good at 240 s (between the thresholds), good again
  // from 300 s: the 120 s delay counts from 300 s, so it resolves at 420 s.
  auto t = Feed(Rule(100, 50, 120), true, {150, 150, 150, 40, 70, 40, 40, 40}, 60, &s);
  EXPECT_EQ(t, (std::vector<T>{T::kBegan, T::kNone, T::kFired, T::kNone, T::kNone, T::kNone,
                               T::kNone, T::kResolved}));
}

TEST(AlertStepTest, LowerIsWorseKindsFireUnderTheirThreshold) {
  AlertState s;
  // Free disk with a floor of 60 and a clear of 65: 58 fires, 62 keeps it, 66 resolves it.
  AlertRule r = Rule(60, 65, 0);
  r.kind = "disk_free";
  auto t = Feed(r, false, {70, 58, 62, 66}, 60, &s);
  EXPECT_EQ(t, (std::vector<T>{T::kNone, T::kFired, T::kNone, T::kResolved}));
}

TEST(AlertStepTest, ASubjectNoLongerObservedOrARuleTurnedOffCountsAsGood) {
  AlertState s;
  auto t = Feed(Rule(10, 5, 0), true, {20, std::nullopt}, 60, &s);
  EXPECT_EQ(t, (std::vector<T>{T::kFired, T::kResolved}));
  AlertRule off = Rule(10, 5, 0);
  off.enabled = false;
  AlertState f{P::kFiring, kT0, kT0, 0};
  EXPECT_EQ(StepAlert(off, true, f, 20, kT0 + kS).transition, T::kResolved);
  EXPECT_EQ(StepAlert(off, true, AlertState{}, 20, kT0).transition, T::kNone);
}

TEST(AlertStepTest, AResolvedAlertIsHistoryAndTheNextBadValueBeginsANewOne) {
  AlertState s{P::kResolved, kT0, kT0, kT0};
  AlertStep step = StepAlert(Rule(10, 5, 60), true, s, 20, kT0 + 600 * kS);
  EXPECT_EQ(step.transition, T::kBegan);
  EXPECT_EQ(step.state.phase, P::kPending);
  EXPECT_EQ(step.state.pending_since_ms, kT0 + 600 * kS);
  EXPECT_EQ(step.state.fired_at_ms, 0);
}

TEST(AlertRuleTest, EveryKindsDefaultsPassItsOwnChecks) {
  ASSERT_GE(AlertRuleKinds().size(), 10u);
  for (const auto& k : AlertRuleKinds()) {
    EXPECT_TRUE(CheckAlertRule(DefaultAlertRule(k)).ok()) << k.name;
    EXPECT_EQ(FindAlertRuleKind(k.name), &k);
  }
  EXPECT_EQ(FindAlertRuleKind("nope"), nullptr);
}

TEST(AlertRuleTest, ChecksNameTheFieldThatIsWrong) {
  AlertRule r = DefaultAlertRule(*FindAlertRuleKind("site_offline"));
  r.kind = "site_ofline";
  Status s = CheckAlertRule(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no alert rule 'site_ofline'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("site_offline"), std::string::npos);

  r = DefaultAlertRule(*FindAlertRuleKind("site_offline"));
  r.threshold = -1;
  EXPECT_NE(CheckAlertRule(r).message().find("threshold is out of range"), std::string::npos);
  r.threshold = 10;
  r.clear_threshold = 20;  // higher is worse: clearing above the threshold makes no sense
  EXPECT_NE(CheckAlertRule(r).message().find("clear_threshold must be at most"), std::string::npos);
  r.clear_threshold = 5;
  r.for_s = 604801;
  EXPECT_NE(CheckAlertRule(r).message().find("for_s is out of range"), std::string::npos);

  AlertRule spec = DefaultAlertRule(*FindAlertRuleKind("out_of_spec_rate"));
  spec.threshold = 101;
  EXPECT_NE(CheckAlertRule(spec).message().find("percent, 0 .. 100"), std::string::npos);
  AlertRule disk = DefaultAlertRule(*FindAlertRuleKind("disk_free"));
  disk.threshold = 2048;
  disk.clear_threshold = 1024;  // lower is worse: the clear threshold lies above the floor
  EXPECT_NE(CheckAlertRule(disk).message().find("clear_threshold must be at least"),
            std::string::npos);
}

TEST(AlertRuleTest, SeveritiesRoundTripByNameAndAnUnknownOneIsRefused) {
  for (auto s : {AlertSeverity::kInfo, AlertSeverity::kWarning, AlertSeverity::kCritical,
                 AlertSeverity::kPage})
    EXPECT_EQ(*ParseAlertSeverity(AlertSeverityName(s)), s);
  auto bad = ParseAlertSeverity("urgent");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("info, warning, critical, page"), std::string::npos);
}

}  // namespace
}  // namespace millrace::central
