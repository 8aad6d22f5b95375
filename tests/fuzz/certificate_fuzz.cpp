// libFuzzer target for C1: the certificate, equivocation, membership and membership-transition
// decoders and the auditor.
// Any input must be handled without a crash, hang, leak or sanitizer report; whatever decodes must
// re-encode to the same bytes (one encoding per value); nothing but the committed examples' bytes
// (and their exact copies) may verify against the example membership.
// Build and run: scripts/fuzz-certificates SECONDS
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/certificate.hpp"
#include "runtime/auditor.hpp"
#include "runtime/examples.hpp"

namespace {
const bf::runtime::Examples& examples() {
  static const bf::runtime::Examples ex = bf::runtime::make_examples().value();
  return ex;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace cc = bf::core::cert;
  const std::span<const std::uint8_t> in(data, size);
  if (auto c = cc::decode_certificate(in)) {
    auto again = cc::encode_certificate(*c);
    if (!again || !std::equal(again->begin(), again->end(), in.begin(), in.end())) std::abort();
  }
  if (auto e = cc::decode_equivocation(in)) {
    auto again = cc::encode_equivocation(*e);
    if (!again || !std::equal(again->begin(), again->end(), in.begin(), in.end())) std::abort();
  }
  if (auto m = cc::decode_membership(in)) {
    auto again = cc::encode_membership(*m);
    if (!again || !std::equal(again->begin(), again->end(), in.begin(), in.end())) std::abort();
  }
  if (auto t = cc::decode_membership_transition(in)) {
    auto again = cc::encode_membership_transition(*t);
    if (!again || !std::equal(again->begin(), again->end(), in.begin(), in.end())) std::abort();
    (void)bf::runtime::verify_membership_transition(in, examples().membership);
  }
  const auto r = bf::runtime::verify_certificate(in, examples().membership);
  const auto q = bf::runtime::verify_equivocation(in, examples().membership);
  if (r.ok() || q.ok()) {
    // Soundness: only an example's exact bytes verify (no other bytes carry valid signatures).
    bool known = false;
    for (const auto& f : examples().log) known = known || std::equal(f.bytes.begin(), f.bytes.end(), in.begin(), in.end());
    if (!known) std::abort();
  }
  return 0;
}
