// Exclusive use of a run folder: the process that trains into a folder (rank 0) holds an advisory
// lock on FOLDER/.bnx.lock for its lifetime, so that a second `bnx train` into the same folder (a
// duplicate launch, a requeued job whose predecessor still runs) fails with an input error instead
// of interleaving its metrics and checkpoints with the first one's. The kernel releases the lock
// when the holder exits, however it exits (kill -9 included), so no stale lock is ever left.
#pragma once

#include <string>

namespace bnx::train {

class RunLock {
 public:
  /// Creates `dir` if needed and locks it. Throws InputError naming the folder when it cannot be
  /// created or its lock file opened, and naming the holder (pid and host) when another process
  /// holds the lock. Where flock fails otherwise (a file system without locks: ENOLCK, EOPNOTSUPP)
  /// it warns on stderr and holds nothing.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  /// Releases the lock for a run refused before it wrote anything (a bad --resume file, a checkpoint
  /// of another model): where this lock created the folder and it holds nothing but the lock file,
  /// both are removed, so that a failed launch leaves no empty run folder behind. Never throws.
  void abandon() noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::string dir_;
  bool created_ = false;  // the folder did not exist before this lock
  int fd_ = -1;
};

}  // namespace bnx::train
