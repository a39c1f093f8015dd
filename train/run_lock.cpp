// The run folder's lock (see run_lock.h): flock(2) on FOLDER/.bnx.lock, holder written into it.
#include "train/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "train/errors.h"

namespace bnx::train {

RunLock::RunLock(const std::string& dir) : dir_(dir) {
  std::error_code made;
  created_ = std::filesystem::create_directories(dir, made);
  if (made) throw InputError("run folder " + dir + ": cannot create it: " + made.message());
  const std::string path = (std::filesystem::path(dir) / ".bnx.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw InputError(path + ": cannot open the run folder's lock file: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      char holder[256] = {};
      const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
      ::close(fd_);
      fd_ = -1;
      std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "another process";
      while (!who.empty() && who.back() == '\n') who.pop_back();
      throw InputError("run folder " + dir + " is in use by " + who +
                       " (it holds " + path + "); stop that run first or train into another --out");
    }
    ::close(fd_);
    fd_ = -1;
    std::cerr << "warning: " << path << ": file locks unsupported here (" << std::strerror(err)
              << "); nothing stops a second bnx train from writing into " << dir << std::endl;
    return;
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string holder = "bnx train (pid " + std::to_string(::getpid()) + " on " + host + ")\n";
  // Should the write fail, the lock still holds; only a second process's message loses the name.
  const bool named = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, holder.data(), holder.size(), 0) > 0;
  (void)named;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

void RunLock::abandon() noexcept {
  namespace fs = std::filesystem;
  std::error_code ignored;
  const fs::path lock_file = fs::path(dir_) / ".bnx.lock";
  // Only a folder this lock made and that holds nothing else: never a file a user or a run put there.
  bool unused = created_;
  for (fs::directory_iterator it(dir_, ignored), end; unused && !ignored && it != end; it.increment(ignored)) {
    unused = it->path().filename() == ".bnx.lock";
  }
  if (unused && !ignored) {
    fs::remove(lock_file, ignored);
    fs::remove(dir_, ignored);
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace bnx::train
