// write_file_atomic: temporary file beside the target, fsync, rename, fsync of the directory.
#include "format/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.hpp"

namespace q8::format {
namespace {

[[noreturn]] void io_fail(const std::string &what, int err) {
  fail(Q8_ERR_IO, what + ": " + std::strerror(err));
}

// The mode a newly created file gets from open(..., 0666): mkstemp makes 0600 files, which a
// replacement of a world-readable model must not silently become. Read from /proc because
// umask() can only be queried by changing it, which races with other threads.
mode_t default_mode() {
  mode_t mask = 022;
  if (FILE *f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "Umask:", 6) == 0) {
        mask = static_cast<mode_t>(std::strtoul(line + 6, nullptr, 8)) & 0777;
        break;
      }
    std::fclose(f);
  }
  return 0666 & ~mask;
}

// The temporary file: removed (and closed) unless committed.
struct TempFile {
  std::string name;
  int fd = -1;
  bool committed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!committed) ::unlink(name.c_str());
  }
};

}  // namespace

void write_file_atomic_at(const std::string &target, const char *what, const std::function<void(int fd)> &produce) {
  const std::size_t slash = target.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : target.substr(0, slash);
  const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  if (base.empty()) fail(Q8_ERR_IO, std::string("cannot ") + what + " to '" + target + "': the path names a directory");

  // Same directory as the target, so rename() is atomic (never crosses file systems).
  TempFile tmp;
  std::string tmpl = dir + "/." + base + ".XXXXXX";
  tmp.fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (tmp.fd < 0) {
    tmp.committed = true;  // nothing was created
    io_fail("cannot create a temporary file in '" + dir + "' to " + what + " '" + target + "'", errno);
  }
  tmp.name = tmpl;

  struct stat st;
  const mode_t mode = ::stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? (st.st_mode & 07777) : default_mode();
  if (::fchmod(tmp.fd, mode) != 0) io_fail("cannot set the mode of '" + tmp.name + "'", errno);

  produce(tmp.fd);
  if (::fsync(tmp.fd) != 0) io_fail("cannot flush '" + tmp.name + "'", errno);
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) io_fail("cannot close '" + tmp.name + "'", errno);
  if (::rename(tmp.name.c_str(), target.c_str()) != 0)
    io_fail("cannot rename '" + tmp.name + "' to '" + target + "'", errno);
  tmp.committed = true;

  // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL): the
  // rename is then as durable as that file system makes it.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) io_fail("wrote '" + target + "', but cannot open its directory to flush it", errno);
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL)
    io_fail("wrote '" + target + "', but cannot flush its directory", err);
}

void write_file_atomic(const std::string &target, const char *what,
                       const std::function<void(const WriteFn &write)> &produce) {
  write_file_atomic_at(target, what, [&](int fd) {
    uint64_t at = 0;
    produce([&](const void *p, std::size_t n) {
      pwrite_all(fd, p, n, at, target);
      at += n;
    });
  });
}

void pwrite_all(int fd, const void *p, std::size_t n, uint64_t offset, const std::string &name) {
  const auto *c = static_cast<const uint8_t *>(p);
  while (n != 0) {
    const ssize_t w = ::pwrite(fd, c, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot write '" + name + "'", errno);
    }
    c += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

}  // namespace q8::format
