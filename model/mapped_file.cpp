#include "model/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace bf::model {

using core::Errc;
using core::Error;
using core::Result;

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::filesystem::path& path, std::string_view what) {
  const std::string name = std::string(what) + " " + path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{Errc::invalid_argument, "cannot open " + name + ": " + std::strerror(errno) + "; check the path"};
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{Errc::invalid_argument, name + " is empty or not a regular file; check the path"};
  }
  const auto length = static_cast<std::size_t>(st.st_size);
  void* address = mmap(nullptr, length, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (address == MAP_FAILED) return Error{Errc::invalid_argument, "cannot map " + name + ": " + std::strerror(errno)};
  return std::shared_ptr<const MappedFile>(new MappedFile(static_cast<const std::uint8_t*>(address), length));
}

MappedFile::~MappedFile() {
  // munmap takes a non-const pointer; the pages were mapped read-only and are never written.
  munmap(const_cast<std::uint8_t*>(address_), length_);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
}

}  // namespace bf::model
