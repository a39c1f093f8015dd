// The run folder's lock: it names its holder, refuses a second holder with an InputError that names
// the folder and the holder, is free again once the holder is gone (also after a child holding it
// is killed), reports a folder that cannot be created as an input error, and, abandoned, removes
// a folder only where it made it and nothing else was written there.
#include "train/run_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "tests/test_support.h"
#include "train/errors.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string lock_error_of(const std::string& dir) {
  try {
    RunLock second(dir);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(RunLock, CreatesTheFolderAndNamesItsHolder) {
  const fs::path dir = test::scratch_dir("lock_holder") / "nested";
  RunLock lock(dir.string());
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(read(dir / ".bnx.lock").rfind("bnx train (pid " + std::to_string(::getpid()) + " on ", 0), 0u);
}

TEST(RunLock, RefusesASecondHolderUntilTheFirstIsGone) {
  const fs::path dir = test::scratch_dir("lock_second");
  std::optional<RunLock> first(std::in_place, dir.string());
  // flock belongs to an open file description: a second open in the same process conflicts too.
  const std::string error = lock_error_of(dir.string());
  EXPECT_NE(error.find("run folder " + dir.string() + " is in use by bnx train (pid " + std::to_string(::getpid())), std::string::npos)
      << error;
  first.reset();
  EXPECT_EQ(lock_error_of(dir.string()), "");
}

TEST(RunLock, IsFreeAfterItsHolderIsKilled) {
  const fs::path dir = test::scratch_dir("lock_killed");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RunLock held(dir.string());
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    ::pause();  // killed with SIGKILL below: no destructor runs
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  EXPECT_NE(lock_error_of(dir.string()).find("(pid " + std::to_string(child) + " on "), std::string::npos);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(lock_error_of(dir.string()), "");
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(RunLock, AFolderThatCannotBeCreatedIsAnInputError) {
  const fs::path dir = test::scratch_dir("lock_file");
  std::ofstream(dir / "plain").put('x');
  const std::string error = lock_error_of((dir / "plain" / "run").string());
  EXPECT_NE(error.find("run folder " + (dir / "plain" / "run").string() + ": cannot create it: "), std::string::npos) << error;
}

TEST(RunLock, AbandonRemovesOnlyAnUnusedFolderItMade) {
  const fs::path base = test::scratch_dir("lock_abandon");
  RunLock((base / "made").string()).abandon();
  EXPECT_FALSE(fs::exists(base / "made"));
  fs::create_directories(base / "existing");
  RunLock((base / "existing").string()).abandon();
  EXPECT_TRUE(fs::is_directory(base / "existing"));
  {
    RunLock used((base / "used").string());
    std::ofstream(base / "used" / "metrics.jsonl").put('x');
    used.abandon();
  }
  EXPECT_TRUE(fs::exists(base / "used" / "metrics.jsonl"));
  EXPECT_EQ(lock_error_of((base / "used").string()), "");  // the lock is free again
}

}  // namespace
}  // namespace bnx::train
