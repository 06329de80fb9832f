// Steps that one rank does for all (reading a file, creating the run folder) and whose failure
// every rank must learn of, so that no rank is left waiting in a collective.
#pragma once
#include <functional>
#include <string>

#include "framework/dist/comm.h"

namespace carnot {

// Runs fn on rank 0. If it throws carnot::Error, every rank throws the same error, marked as
// raised on all ranks.
void run_on_root_and_agree(Comm& comm, const std::function<void()>& fn);

// Rank 0's string on every rank.
std::string broadcast_string(Comm& comm, const std::string& s);

// Checks that every rank holds the same bytes (xxHash64 against rank 0's); if not, every rank
// throws the same Error naming `what` and the ranks that differ. Replicas that drift apart
// (a non-deterministic kernel, a bit flip) would otherwise train on silently.
void check_replicas_identical(Comm& comm, const void* data, std::int64_t bytes, const std::string& what);

}  // namespace carnot
