// A server-streaming gRPC reaction that any thread may feed.
//
// gRPC's callback API allows one write in flight; producers (the agent's
// event loop) push messages whenever they have them. StreamWriter queues
// them, writes one at a time, and finishes the call once Finish() was called
// and the queue is drained. When the client goes away, `on_cancel` runs
// once (on a gRPC thread: post to your executor) and further pushes are
// dropped.
//
// Lifetime: gRPC owns the reactor until OnDone; producers hold a
// std::shared_ptr<Handle> that stays safe to use after the call ended.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace zlayer::api {

template <typename Message>
class StreamWriter : public grpc::ServerWriteReactor<Message> {
 public:
  // What producers hold. Push/Finish after the call ended do nothing.
  class Handle {
   public:
    void Push(Message message) {
      std::lock_guard lock(mu_);
      if (writer_ != nullptr) writer_->PushLocked(std::move(message));
    }
    void Finish(grpc::Status status) {
      std::lock_guard lock(mu_);
      if (writer_ != nullptr) writer_->FinishLocked(std::move(status));
    }
    bool active() {
      std::lock_guard lock(mu_);
      return writer_ != nullptr && !writer_->cancelled_;
    }

   private:
    friend class StreamWriter;
    std::mutex mu_;  // guards writer_ and everything of the writer it points to
    StreamWriter* writer_ = nullptr;
  };

  StreamWriter() : handle_(std::make_shared<Handle>()) { handle_->writer_ = this; }

  std::shared_ptr<Handle> handle() { return handle_; }
  void set_on_cancel(std::function<void()> on_cancel) { on_cancel_ = std::move(on_cancel); }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(handle_->mu_);
    writing_ = false;
    queue_.pop_front();
    if (!ok) cancelled_ = true;
    WriteNextLocked();
  }

  void OnCancel() override {
    std::function<void()> callback;
    {
      std::lock_guard lock(handle_->mu_);
      cancelled_ = true;
      callback = std::move(on_cancel_);
      WriteNextLocked();
    }
    if (callback) callback();
  }

  void OnDone() override {
    {
      std::lock_guard lock(handle_->mu_);
      handle_->writer_ = nullptr;
    }
    delete this;
  }

 private:
  void PushLocked(Message message) {
    if (cancelled_ || finish_requested_) return;
    queue_.push_back(std::move(message));
    WriteNextLocked();
  }
  void FinishLocked(grpc::Status status) {
    if (finish_requested_) return;
    finish_requested_ = true;
    pending_status_ = std::move(status);
    WriteNextLocked();
  }
  // Starts the next write, or finishes the call once nothing is in flight
  // and either the producer finished or the client went away.
  void WriteNextLocked() {
    if (writing_ || finish_called_) return;
    if (!cancelled_ && !queue_.empty()) {
      writing_ = true;
      this->StartWrite(&queue_.front());
      return;
    }
    if (cancelled_ || finish_requested_) {
      finish_called_ = true;
      queue_.clear();
      this->Finish(cancelled_ ? grpc::Status::CANCELLED : pending_status_);
    }
  }

  std::shared_ptr<Handle> handle_;
  std::deque<Message> queue_;
  std::function<void()> on_cancel_;
  bool writing_ = false;
  bool cancelled_ = false;
  bool finish_requested_ = false;
  bool finish_called_ = false;
  grpc::Status pending_status_;
};

}  // namespace zlayer::api
