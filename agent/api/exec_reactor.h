// The Exec RPC (bidi stream): the gRPC side of an agent::exec::ExecSession.
//
// Protocol (agent.proto): the first client message is `start`; the server
// answers `started`, then `stdout`/`stderr` bytes as the process writes
// them, and `exit` last, then ends the call with OK. Later client messages
// feed stdin, close it, resize the terminal or send a signal. A client
// half-close implies close_stdin. A cancelled call kills the process.
//
// Threads: gRPC reactions only post to the agent's loop; the session lives
// on the loop and its callbacks push responses through a mutex-guarded
// queue (one write in flight, as gRPC requires).
#pragma once

#include <grpcpp/grpcpp.h>

#include "zlayer/v1/agent.grpc.pb.h"

namespace zlayer::agent::node {
class Node;
}

namespace zlayer::api {

// Returns a reactor gRPC owns (it deletes itself in OnDone).
grpc::ServerBidiReactor<zlayer::v1::ExecRequest, zlayer::v1::ExecResponse>* NewExecReactor(
    agent::node::Node& agent);

// "SIGINT", "INT", "2" → 2; 0 for anything else.
int ParseSignal(const std::string& text);

}  // namespace zlayer::api
