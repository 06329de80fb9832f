// NcclComm: the Comm over NCCL, for gradients that live on the GPU. Built when CUDA and NCCL are
// (CARNOT_WITH_NCCL); elsewhere make_nccl_comm throws a clear error.
//
// Buffers: the float collectives (all-reduce, reduce-scatter, all-gather, gather, scatter and
// their nonblocking forms) take device pointers, and a host pointer is an error naming the call.
// Small reductions of doubles and broadcasts go through NCCL for device pointers and through the
// host communicator (MPI) for host ones, so the trainer's scalars (loss, stop flag, norms) need
// no copies. Barrier and abort use both.
//
// Streams: NCCL runs on its own stream. Every operation first waits, by an event, for the work
// queued so far on the compute stream (set_compute_stream; the legacy default stream unless set),
// and the blocking ones make the compute stream wait for their end by another event, so nothing
// syncs the host. The started ones (start_*) are joined the same way by wait_all. To read a result
// on the host, synchronise the compute stream.
#pragma once
#include <memory>

#include "framework/dist/comm.h"

namespace carnot {

// Collective over the ranks of `host` (which must outlive the result): rank 0 makes NCCL's
// unique id and `host` broadcasts it; every rank uses GPU `device`.
std::unique_ptr<Comm> make_nccl_comm(Comm& host, int device);

// Whether this build has NCCL.
bool nccl_available();

// The compute stream (a cudaStream_t) an NcclComm orders its collectives after; null: legacy
// default stream. Throws unless `comm` is an NcclComm.
void set_compute_stream(Comm& comm, void* stream);

}  // namespace carnot
