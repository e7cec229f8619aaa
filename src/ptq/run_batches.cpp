// Running a model over batches for the passes that measure it (calibration, sensitivity).
#include <memory>

#include "model/graph.hpp"
#include "ptq/util.hpp"

namespace q8::ptq {

namespace {
struct SessionDeleter {
  void operator()(q8_session *s) const { q8_session_destroy(s); }
};
}  // namespace

void run_batches(const q8_model &m, const q8_tensor *const *batches, size_t count, const std::string &what,
                 const std::function<void(q8_session *, size_t)> &fn) {
  const size_t n_in = m.graph.inputs.size();
  std::unique_ptr<q8_session, SessionDeleter> session;
  int64_t session_batch = -1;
  for (size_t b = 0; b < count; ++b) {
    const q8_tensor *const *in = batches + b * n_in;
    for (size_t i = 0; i < n_in; ++i)
      if (!in[i]) fail(Q8_ERR_INVALID_ARGUMENT, what + " batch " + std::to_string(b) + " input " + std::to_string(i) + " is NULL");
    if (in[0]->rank == 0) fail(Q8_ERR_SHAPE, what + " batch " + std::to_string(b) + ": input 0 has no batch dimension");
    const int64_t batch = in[0]->shape[0];
    if (batch != session_batch) {
      q8_session *s = nullptr;
      check(q8_session_create(&m, batch, &s), "creating a " + what + " session");
      session.reset(s);
      session_batch = batch;
    }
    check(q8_session_run(session.get(), in, n_in), what + " run " + std::to_string(b));
    fn(session.get(), b);
  }
}

}  // namespace q8::ptq
