#include "activations.hpp"

#include <cstdint>
#include <cstring>

namespace q8mpi {

using namespace q8cli;

namespace {

template <class T>
void put(std::vector<unsigned char> &b, const T &v) {
  const auto *p = reinterpret_cast<const unsigned char *>(&v);
  b.insert(b.end(), p, p + sizeof(T));
}
void put_bytes(std::vector<unsigned char> &b, const void *p, std::size_t n) {
  const auto *c = static_cast<const unsigned char *>(p);
  b.insert(b.end(), c, c + n);
}

struct Reader {
  const std::vector<unsigned char> &b;
  std::size_t at = 0;
  const unsigned char *take(std::size_t n) {
    if (n > b.size() - at) throw CliError{"activation message truncated at byte " + std::to_string(at), kExitError};
    const unsigned char *p = b.data() + at;
    at += n;
    return p;
  }
  template <class T>
  T get() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
};

}  // namespace

std::vector<unsigned char> pack(const Named &tensors) {
  std::vector<unsigned char> b;
  put(b, static_cast<uint32_t>(tensors.size()));
  for (const auto &[name, t] : tensors) {
    put(b, static_cast<uint32_t>(name.size()));
    put_bytes(b, name.data(), name.size());
    q8_dtype dt;
    size_t rank = 0, nbytes = 0, qcount = 0;
    int32_t axis = -1;
    int64_t shape[Q8_MAX_RANK] = {};
    Q8_CHECK(q8_tensor_dtype(t, &dt));
    Q8_CHECK(q8_tensor_rank(t, &rank));
    Q8_CHECK(q8_tensor_shape(t, shape, Q8_MAX_RANK));
    Q8_CHECK(q8_tensor_qparams_layout(t, &axis, &qcount));
    std::vector<float> scales(qcount);
    std::vector<int32_t> zps(qcount);
    if (qcount) Q8_CHECK(q8_tensor_get_qparams(t, scales.data(), zps.data(), qcount));
    Q8_CHECK(q8_tensor_nbytes(t, &nbytes));
    void *data = nullptr;
    Q8_CHECK(q8_tensor_data(t, &data));
    put(b, static_cast<int32_t>(dt));
    put(b, static_cast<uint32_t>(rank));
    put_bytes(b, shape, rank * sizeof(int64_t));
    put(b, axis);
    put(b, static_cast<uint64_t>(qcount));
    put_bytes(b, scales.data(), qcount * sizeof(float));
    put_bytes(b, zps.data(), qcount * sizeof(int32_t));
    put(b, static_cast<uint64_t>(nbytes));
    if (nbytes) put_bytes(b, data, nbytes);
  }
  return b;
}

std::vector<std::pair<std::string, Tensor>> unpack(const std::vector<unsigned char> &bytes) {
  Reader r{bytes};
  const uint32_t count = r.get<uint32_t>();
  std::vector<std::pair<std::string, Tensor>> out;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t len = r.get<uint32_t>();
    std::string name(reinterpret_cast<const char *>(r.take(len)), len);
    const int32_t dt_bits = r.get<int32_t>();
    if (dt_bits < Q8_DTYPE_F32 || dt_bits > Q8_DTYPE_S32)
      throw CliError{"activation '" + name + "': unknown dtype " + std::to_string(dt_bits), kExitError};
    const auto dt = static_cast<q8_dtype>(dt_bits);
    const uint32_t rank = r.get<uint32_t>();
    if (rank > Q8_MAX_RANK) throw CliError{"activation '" + name + "': rank " + std::to_string(rank) + " too large", kExitError};
    int64_t shape[Q8_MAX_RANK] = {};
    std::memcpy(shape, r.take(rank * sizeof(int64_t)), rank * sizeof(int64_t));
    const int32_t axis = r.get<int32_t>();
    const uint64_t qcount = r.get<uint64_t>();
    if (qcount > bytes.size()) throw CliError{"activation '" + name + "': bad quantization parameter count", kExitError};
    std::vector<float> scales(qcount);
    std::vector<int32_t> zps(qcount);
    const unsigned char *scale_bytes = r.take(qcount * sizeof(float)), *zp_bytes = r.take(qcount * sizeof(int32_t));
    if (qcount) {  // (an FP32 tensor has none: empty vectors' data() may be null, not for memcpy)
      std::memcpy(scales.data(), scale_bytes, qcount * sizeof(float));
      std::memcpy(zps.data(), zp_bytes, qcount * sizeof(int32_t));
    }
    const uint64_t nbytes = r.get<uint64_t>();
    const unsigned char *data = r.take(nbytes);
    // The shape must account for exactly the bytes that came (checked before allocating).
    uint64_t have = dt == Q8_DTYPE_F32 || dt == Q8_DTYPE_S32 ? 4 : 1;
    for (uint32_t d = 0; d < rank; ++d)
      if (shape[d] < 0 || __builtin_mul_overflow(have, static_cast<uint64_t>(shape[d]), &have))
        throw CliError{"activation '" + name + "': bad shape", kExitError};
    if (have != nbytes)
      throw CliError{"activation '" + name + "': " + std::to_string(nbytes) + " bytes for a tensor of " + std::to_string(have), kExitError};
    q8_tensor *t = nullptr;
    Q8_CHECK(q8_tensor_create(dt, shape, rank, &t));
    Tensor owned(t);
    void *dst = nullptr;
    Q8_CHECK(q8_tensor_data(t, &dst));
    if (nbytes) std::memcpy(dst, data, nbytes);
    if (axis < -1 || (axis == -1 && qcount > 1))
      throw CliError{"activation '" + name + "': quantization axis " + std::to_string(axis) + " for " +
                         std::to_string(qcount) + " parameters", kExitError};
    if (qcount == 1 && axis < 0) Q8_CHECK(q8_tensor_set_qparams(t, scales[0], zps[0]));
    else if (qcount) Q8_CHECK(q8_tensor_set_qparams_per_axis(t, axis, scales.data(), zps.data(), qcount));
    out.emplace_back(std::move(name), std::move(owned));
  }
  if (r.at != bytes.size()) throw CliError{"activation message has trailing bytes", kExitError};
  return out;
}

}  // namespace q8mpi
