// Prepared forms of a model's constant weights (packed GEMM panels), made by the first session
// that needs one and shared by every other live session of the same model: a pipeline
// partition's replicas and its tail session hold its packed weights once, as a model's sessions
// at several batch sizes do. The cache only remembers them (weak references): when the last
// session holding an entry goes, so does the entry's memory, and a later session packs again. A
// model never changes once made (the C API takes it const), so an entry never goes stale.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace q8::model {

class PackCache {
 public:
  // The entry under `key`, made by make(T &) on first use. A key always names one type T (callers
  // put the kernel's purpose in it). Making runs under the cache's lock: concurrent sessions wait
  // for one packing instead of each doing it.
  template <class T, class Make>
  std::shared_ptr<const T> get(const std::string &key, Make &&make) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::weak_ptr<const void> &slot = entries_[key];
    if (std::shared_ptr<const void> live = slot.lock()) return std::static_pointer_cast<const T>(live);
    auto made = std::make_shared<T>();
    make(*made);
    slot = made;
    return made;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<const void>> entries_;
};

}  // namespace q8::model
