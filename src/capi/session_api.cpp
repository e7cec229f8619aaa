// q8_session_* entry points: argument checks around q8::rt::Session.
#include "capi/guard.hpp"
#include "q8/model.h"
#include "runtime/session.hpp"

using namespace q8;

namespace {
const q8_session &deref_session(const q8_session *s) {
  if (!s) fail(Q8_ERR_INVALID_ARGUMENT, "session is NULL");
  return *s;
}
}  // namespace

extern "C" {

q8_status q8_session_create(const q8_model *model, int64_t batch, q8_session **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(out);
    *out = new q8_session(*model, batch);
  });
}

void q8_session_destroy(q8_session *session) { delete session; }

q8_status q8_session_run(q8_session *session, const q8_tensor *const *inputs, size_t count) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(session);
    session->session.run(inputs, count);
  });
}

q8_status q8_session_output(const q8_session *session, size_t index, const q8_tensor **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(out);
    *out = &deref_session(session).session.output(index);
  });
}

q8_status q8_session_tensor(const q8_session *session, const char *name, const q8_tensor **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(name);
    Q8_CHECK_NOT_NULL(out);
    const rt::Session &s = deref_session(session).session;
    if (!s.has_run()) fail(Q8_ERR_STATE, "the session has not run yet (or its last run failed)");
    const q8_tensor *t = s.tensor(std::string(name));
    if (!t) fail(Q8_ERR_INVALID_ARGUMENT, std::string("no tensor is named '") + name + "'");
    *out = t;
  });
}

}  // extern "C"
