// See mapped_file.hpp.
#include "core/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"

namespace q8 {

MappedFile::MappedFile(const std::string &path, const std::string &name, const std::string &lead) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(Q8_ERR_IO, lead + "cannot open " + name + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(Q8_ERR_IO, lead + "cannot stat " + name + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(Q8_ERR_IO, lead + name + " is not a regular file");
  }
  device_ = static_cast<uint64_t>(st.st_dev);
  inode_ = static_cast<uint64_t>(st.st_ino);
  size_ = static_cast<std::size_t>(st.st_size);
  static const uint8_t empty = 0;
  data_ = &empty;
  if (size_ != 0) {
    void *addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file open
    if (addr == MAP_FAILED) fail(Q8_ERR_IO, lead + "cannot map " + name + ": " + std::strerror(err));
    data_ = static_cast<const uint8_t *>(addr);
  } else {
    ::close(fd);
  }
}

MappedFile::~MappedFile() {
  if (size_ != 0) ::munmap(const_cast<uint8_t *>(data_), size_);
}

}  // namespace q8
