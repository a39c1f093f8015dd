// Evaluation schedule and plateau rule against hand-computed steps and curves.
#include "train/eval_schedule.h"

#include <gtest/gtest.h>

namespace bnx::train {
namespace {

std::vector<int64_t> due_steps(const EvalSchedule& s, int64_t last) {
  std::vector<int64_t> steps;
  for (int64_t step = 1; step <= last; ++step) {
    if (eval_due(s, step)) steps.push_back(step);
  }
  return steps;
}

TEST(EvalSchedule, FixedIntervalAndNone) {
  EXPECT_EQ(due_steps({250, 0, 0}, 1000), (std::vector<int64_t>{250, 500, 750, 1000}));
  EXPECT_TRUE(due_steps({0, 0, 0}, 1000).empty());
}

TEST(EvalSchedule, GeometricDoublesTheIntervalWithTheStepCount) {
  // 2 evaluations per doubling from an interval of 10: every 10 below 40, every 20 below 80,
  // every 40 below 160 (80, 120), then capped at 50 (200, 250: 160 is no multiple of 50).
  const EvalSchedule s{10, 2, 50};
  EXPECT_EQ(due_steps(s, 260), (std::vector<int64_t>{10, 20, 30, 40, 60, 80, 120, 200, 250}));
  EXPECT_EQ(eval_interval(s, 39), 10);
  EXPECT_EQ(eval_interval(s, 40), 20);
  EXPECT_EQ(eval_interval(s, 159), 40);
  EXPECT_EQ(eval_interval(s, 160), 50);
  // No cap: keeps doubling (1000 is in [640, 1280): 320).
  EXPECT_EQ(eval_interval({10, 2, 0}, 1000), 320);
}

TEST(Plateau, NeedsNoNewBestInTheLastThirdAndASmallGain) {
  const PlateauRule rule{0.003, 0, 3};
  // Rising steadily: never a plateau.
  AccuracyCurve rising;
  for (int64_t s = 1; s <= 12; ++s) rising.emplace_back(100 * s, 0.5 + 0.01 * s);
  EXPECT_FALSE(plateau_reached(rising, rule));
  EXPECT_EQ(first_plateau_step(rising, rule), -1);
  // Best at step 400, then flat at 0.80 (gain 0.80 - mean(0.80, 0.80, 0.80, 0.79...) small).
  AccuracyCurve flat = {{100, 0.70}, {200, 0.78}, {300, 0.79}, {400, 0.81}, {500, 0.80}, {600, 0.80},
                        {700, 0.80}, {800, 0.80}, {900, 0.80}};
  // At 900: thirds (300, 600] = {400, 500, 600} -> mean 0.80333, (600, 900] = {700, 800, 900} -> 0.80;
  // best 0.81 at 400 <= 600; gain -0.0033 < 0.003: plateau.
  EXPECT_TRUE(plateau_reached(flat, rule));
  // First at 800: (266, 533] = {300, 400, 500} -> 0.80, (533, 800] = {600, 700, 800} -> 0.80, best
  // at 400. At 700: (233, 466] = {300, 400}: too few evaluations for min_evals 3.
  EXPECT_EQ(first_plateau_step(flat, rule), 800);
  // A new best in the last third: no plateau.
  flat.emplace_back(1000, 0.82);
  EXPECT_FALSE(plateau_reached(flat, rule));
  // min_steps delays it.
  AccuracyCurve again(flat.begin(), flat.end() - 1);
  EXPECT_FALSE(plateau_reached(again, {0.003, 1000, 3}));
  // Still rising by more than the gain on average: no plateau, even without a new best.
  AccuracyCurve slow = {{100, 0.50}, {200, 0.90}, {300, 0.60}, {400, 0.61}, {500, 0.62}, {600, 0.63},
                        {700, 0.64}, {800, 0.65}, {900, 0.66}};
  EXPECT_FALSE(plateau_reached(slow, rule));  // gain 0.65 - 0.62 = 0.03
}

}  // namespace
}  // namespace bnx::train
