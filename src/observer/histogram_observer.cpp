// Placeholder until the histogram observers land (same session): refuses the kinds it lacks.
#include "core/error.hpp"
#include "observer/observer.hpp"

namespace q8::observe {
std::unique_ptr<Observer> make_histogram_observer(const q8_observer_options &) {
  fail(Q8_ERR_UNSUPPORTED, "histogram observers are not built yet");
}
}  // namespace q8::observe
