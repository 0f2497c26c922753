#include "cmd/zlayer/render.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using zlayer::cli::Clock;
using zlayer::cli::ToTimestamp;
namespace v1 = zlayer::v1;

namespace {

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'700'000'000));

google::protobuf::Duration Span(std::chrono::nanoseconds d) {
  google::protobuf::Duration out;
  out.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(d).count());
  out.set_nanos(static_cast<int32_t>((d % 1s).count()));
  return out;
}

// hello: web with a running healthy replica and one in back-off after an OOM kill;
// db converged; the deployment is degraded.
v1::ListResponse SampleList() {
  v1::ListResponse list;
  auto* d = list.add_deployments();
  d->set_name("hello");
  d->set_generation(3);
  d->set_observed_generation(3);
  d->set_phase(v1::Deployment::PHASE_DEGRADED);
  d->set_message("web: 1 of 2 replicas failing");
  auto* web = d->add_services();
  web->set_name("web");
  web->set_image("busybox:latest");
  web->set_desired_replicas(2);

  auto* r0 = web->add_replicas();
  r0->set_container_id("hello-web-0");
  r0->set_state(v1::Replica::STATE_RUNNING);
  r0->set_health(v1::Replica::HEALTH_HEALTHY);
  r0->set_pid(4242);
  r0->set_address("10.200.0.2");
  r0->set_image("127.0.0.1:5000/busybox:latest");
  *r0->mutable_uptime() = Span(3min + 12s);

  auto* r1 = web->add_replicas();
  r1->set_container_id("hello-web-1");
  r1->set_index(1);
  r1->set_state(v1::Replica::STATE_BACKOFF);
  r1->set_health(v1::Replica::HEALTH_UNHEALTHY);
  r1->set_restart_count(4);
  r1->mutable_last_exit()->set_code(137);
  r1->mutable_last_exit()->set_signal("SIGKILL");
  r1->mutable_last_exit()->set_reason("OOMKilled");
  *r1->mutable_next_restart_at() = ToTimestamp(kNow + 1600ms);
  r1->set_message("back-off 1.6s after exit 137");

  auto* db = d->add_services();
  db->set_name("db");
  db->set_image("redis:7");
  auto* r2 = db->add_replicas();
  r2->set_container_id("hello-db-0");
  r2->set_state(v1::Replica::STATE_EXITED);
  r2->mutable_last_exit()->set_code(0);
  r2->mutable_last_exit()->set_reason("Completed");
  return list;
}

}  // namespace

TEST_CASE("ps renders one row per replica with state, health, address, exit and uptime") {
  CHECK(
      zlayer::cli::RenderReplicaTable(SampleList(), kNow) ==
      "CONTAINER     SERVICE     STATE     HEALTH      PID    ADDRESS      RESTARTS   EXIT       "
      "               UPTIME                 IMAGE\n"
      "hello-web-0   hello/web   running   healthy     4242   10.200.0.2   0          -          "
      "               3m12s                  127.0.0.1:5000/busybox:latest\n"
      "hello-web-1   hello/web   backoff   unhealthy   -      -            4          137/SIGKILL "
      "(OOMKilled)   next restart in 1.6s   busybox:latest\n"
      "hello-db-0    hello/db    exited    -           -      -            0          0 "
      "(Completed)             -                      redis:7\n");
}

TEST_CASE("A replica whose restart is overdue shows `restarting`") {
  auto list = SampleList();
  auto* r1 = list.mutable_deployments(0)->mutable_services(0)->mutable_replicas(1);
  *r1->mutable_next_restart_at() = ToTimestamp(kNow - 1s);
  CHECK_THAT(zlayer::cli::RenderReplicaTable(list, kNow), Catch::Contains("restarting"));
}

TEST_CASE("An empty list renders the header only") {
  CHECK(
      zlayer::cli::RenderReplicaTable(v1::ListResponse(), kNow) ==
      "CONTAINER   SERVICE   STATE   HEALTH   PID   ADDRESS   RESTARTS   EXIT   UPTIME   IMAGE\n");
  CHECK(zlayer::cli::RenderListNotes(v1::ListResponse()).empty());
}

TEST_CASE("Notes under ps explain a degraded deployment, rollouts and failing replicas") {
  auto list = SampleList();
  auto* rollout = list.mutable_deployments(0)->mutable_services(0)->mutable_rollout();
  rollout->set_state(v1::Rollout::STATE_STOPPED);
  rollout->set_strategy(v1::UPDATE_STRATEGY_ROLLING);
  rollout->set_generation(3);
  rollout->set_updated(1);
  rollout->set_total(2);
  rollout->set_message("hello-web-2 never became healthy");
  CHECK(zlayer::cli::RenderListNotes(list) ==
        "hello: degraded (generation 3, observed 3): web: 1 of 2 replicas failing\n"
        "hello/web: rollout of generation 3 stopped, 1/2 updated (rolling): hello-web-2 never "
        "became healthy\n"
        "hello-web-1: back-off 1.6s after exit 137\n");
}

TEST_CASE("JSON output keeps proto field names and zero values, with the table's words") {
  auto list = SampleList();
  auto* r0 = list.mutable_deployments(0)->mutable_services(0)->mutable_replicas(0);
  r0->set_generation(3);
  *r0->mutable_started_at() = ToTimestamp(kNow - 192s);
  auto text = zlayer::cli::ToJson(list);
  REQUIRE(text.ok());
  CHECK_THAT(*text, Catch::EndsWith("\n"));
  auto json = nlohmann::json::parse(*text);
  const auto& d = json["deployments"][0];
  CHECK(d["phase"] == "degraded");
  CHECK(d["generation"] == 3);  // a number, not "3"
  const auto& web0 = d["services"][0]["replicas"][0];
  CHECK(web0["container_id"] == "hello-web-0");
  CHECK(web0["state"] == "running");
  CHECK(web0["health"] == "healthy");
  CHECK(web0["generation"] == 3);
  CHECK(web0["restart_count"] == 0);
  CHECK(web0["uptime"] == 192.0);  // seconds
  CHECK(web0["started_at"] == "2023-11-14T22:10:08.000000000Z");
  CHECK(web0["last_exit"].is_null());
  CHECK(web0["next_restart_at"].is_null());
  const auto& web1 = d["services"][0]["replicas"][1];
  CHECK(web1["state"] == "backoff");
  CHECK(web1["health"] == "unhealthy");
  CHECK(web1["last_exit"]["code"] == 137);
  CHECK(web1["last_exit"]["signal"] == "SIGKILL");
  CHECK(web1["next_restart_at"] == "2023-11-14T22:13:21.600000000Z");
  CHECK(d["services"][1]["replicas"][0]["health"].is_null());  // no check: the table's "-"
  CHECK(d["services"][0]["rollout"].is_null());
  CHECK(d["services"][0]["type"].is_null());

  v1::HealthResponse unhealthy;
  CHECK(nlohmann::json::parse(*zlayer::cli::ToJson(unhealthy))["healthy"] == false);
}

TEST_CASE("JSON words: phases and strategies as in the table, other enums without prefix") {
  v1::ListResponse list;
  auto* d = list.add_deployments();
  d->set_phase(v1::Deployment::PHASE_ROLLOUT_STOPPED);
  auto* s = d->add_services();
  s->set_type(v1::Service::TYPE_JOB);
  s->mutable_rollout()->set_strategy(v1::UPDATE_STRATEGY_STOP_FIRST);
  s->mutable_rollout()->set_state(v1::Rollout::STATE_IN_PROGRESS);
  auto json = nlohmann::json::parse(*zlayer::cli::ToJson(list));
  CHECK(json["deployments"][0]["phase"] == "rollout stopped");
  CHECK(json["deployments"][0]["services"][0]["type"] == "job");
  CHECK(json["deployments"][0]["services"][0]["rollout"]["strategy"] == "stop-first");
  CHECK(json["deployments"][0]["services"][0]["rollout"]["state"] == "in progress");
}

TEST_CASE("JSON of status: counts as numbers, durations in seconds, maps as objects") {
  v1::StatusResponse status;
  status.set_namespace_("zlayer");
  status.mutable_counts()->set_deployments(1);
  status.mutable_counts()->set_services(2);
  status.mutable_counts()->set_images(1);
  *status.mutable_agent_uptime() = Span(90s + 500ms);
  auto json = nlohmann::json::parse(*zlayer::cli::ToJson(status));
  CHECK(json["namespace"] == "zlayer");
  CHECK(json["counts"]["services"] == 2);
  CHECK(json["counts"]["images"] == 1);
  CHECK(json["agent_uptime"] == 90.5);
  CHECK(json["agent_started_at"].is_null());

  v1::InspectResponse inspect;
  auto* config = inspect.add_replicas()->mutable_config();
  (*config->mutable_labels())["zlayer.service"] = "web";
  (*config->mutable_labels())["a"] = "b";
  config->set_memory_bytes(int64_t{1} << 40);
  auto detail = nlohmann::json::parse(*zlayer::cli::ToJson(inspect))["replicas"][0];
  CHECK(detail["config"]["labels"] == nlohmann::json({{"a", "b"}, {"zlayer.service", "web"}}));
  CHECK(detail["config"]["memory_bytes"] == int64_t{1} << 40);
}

TEST_CASE("images renders name, short digest, human size and unpacked") {
  v1::ListImagesResponse images;
  auto* i = images.add_images();
  i->set_name("docker.io/library/busybox:latest");
  i->set_digest("sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f4e79");
  i->set_size(2'200'000);
  i->set_unpacked(true);
  CHECK(zlayer::cli::RenderImageTable(images) ==
        "NAME                               DIGEST         SIZE     UNPACKED\n"
        "docker.io/library/busybox:latest   3fbc63216742   2.1MiB   yes\n");
}

TEST_CASE("routes renders a row per route, replicas in rotation first, then the others' states") {
  v1::ListRoutesResponse routes;
  v1::Listener* http = routes.add_listeners();
  http->set_port(80);
  http->set_kind("http");
  v1::Route* api = http->add_routes();
  api->set_host("shop.test");
  api->set_path("/api");
  api->set_deployment("shop");
  api->set_service("api");
  api->set_target_port(8080);
  v1::RouteReplica* up = api->add_replicas();
  up->set_container_id("shop-api-0");
  up->set_in_rotation(true);
  v1::RouteReplica* down = api->add_replicas();
  down->set_container_id("shop-api-1");
  down->set_state(v1::Replica::STATE_RUNNING);
  down->set_health(v1::Replica::HEALTH_STARTING);
  v1::Route* redirect = http->add_routes();
  redirect->set_host("pay.test");
  redirect->set_path("/");
  redirect->set_redirect_to_port(443);
  v1::Listener* tcp = routes.add_listeners();
  tcp->set_port(9000);
  tcp->set_kind("tcp");
  v1::Route* raw = tcp->add_routes();
  raw->set_deployment("shop");
  raw->set_service("raw");
  raw->set_target_port(9000);
  CHECK(zlayer::cli::RenderRoutesTable(routes) ==
        "PORT   KIND   HOST        PATH   TARGET                   CERT   REPLICAS\n"
        "80     http   shop.test   /api   shop/api:8080            -      shop-api-0, shop-api-1 "
        "(running, starting)\n"
        "80     http   pay.test    /      redirect to https :443   -      -\n"
        "9000   tcp    *           -      shop/raw:9000            -      -\n");
  CHECK(zlayer::cli::RenderRoutesNotes(routes).empty());
}

TEST_CASE(
    "routes shows the certificate source of https routes in CERT, and under the table why a "
    "route's certificate is self-signed, once per host") {
  v1::ListRoutesResponse routes;
  v1::Listener* https = routes.add_listeners();
  https->set_port(443);
  https->set_kind("https");
  auto add = [&](const char* host, const char* path, const char* cert, const char* note) {
    v1::Route* r = https->add_routes();
    r->set_host(host);
    r->set_path(path);
    r->set_deployment("shop");
    r->set_service("web");
    r->set_target_port(8080);
    r->set_certificate(cert);
    r->set_certificate_note(note);
  };
  add("shop.test", "/", "acme", "");
  add("pay.test", "/api", "self-signed", "acme: connection refused");
  add("pay.test", "/", "self-signed", "acme: connection refused");
  add("*.cdn.test", "/", "self-signed",
      "a wildcard: HTTP-01 cannot validate it\n(put a certificate in the certs directory)");
  add("", "/", "user", "");
  CHECK(zlayer::cli::RenderRoutesTable(routes) ==
        "PORT   KIND    HOST         PATH   TARGET          CERT          REPLICAS\n"
        "443    https   shop.test    /      shop/web:8080   acme          -\n"
        "443    https   pay.test     /api   shop/web:8080   self-signed   -\n"
        "443    https   pay.test     /      shop/web:8080   self-signed   -\n"
        "443    https   *.cdn.test   /      shop/web:8080   self-signed   -\n"
        "443    https   *            /      shop/web:8080   user          -\n");
  CHECK(zlayer::cli::RenderRoutesNotes(routes) ==
        "note: pay.test: acme: connection refused\n"
        "note: *.cdn.test: a wildcard: HTTP-01 cannot validate it (put a certificate in the "
        "certs directory)\n");
}

TEST_CASE(
    "certs lists the default first, then each host with its source, expiry and what ACME does "
    "for it") {
  v1::ListCertificatesResponse certs;
  auto add = [&](const char* host, const char* source, Clock::duration left) {
    v1::Certificate* c = certs.add_certificates();
    c->set_host(host);
    c->set_source(source);
    *c->mutable_not_after() = ToTimestamp(kNow + left);
    return c;
  };
  // kNow is 2023-11-14 22:13:20 UTC.
  v1::Certificate* renewing = add("shop.test", "acme", 89 * 24h + 5h);
  *renewing->mutable_acme()->mutable_next_attempt() = ToTimestamp(kNow + 59 * 24h + 5h);
  v1::Certificate* failing = add("pay.test", "self-signed", 365 * 24h);
  failing->set_note("no certificate for pay.test in /var/lib/zlayer/certs: self-signed");
  failing->mutable_acme()->set_last_error("order: connection\nrefused");
  *failing->mutable_acme()->mutable_next_attempt() = ToTimestamp(kNow + 3min);
  v1::Certificate* wildcard = add("*.cdn.test", "self-signed", 365 * 24h);
  wildcard->mutable_acme()->set_refused(true);
  wildcard->mutable_acme()->set_last_error("a wildcard: HTTP-01 cannot validate it");
  v1::Certificate* obtaining = add("new.test", "self-signed", 365 * 24h);
  obtaining->mutable_acme()->set_in_progress(true);
  add("own.test", "user", -3 * 24h);
  add("", "self-signed", 10h);

  CHECK(zlayer::cli::RenderCertificatesTable(certs, kNow) ==
        "HOST         SOURCE        EXPIRES                       ACME\n"
        "(default)    self-signed   2023-11-15 (in 10h0m)         -\n"
        "*.cdn.test   self-signed   2024-11-13 (in 365d)          refused: a wildcard: HTTP-01 "
        "cannot validate it\n"
        "new.test     self-signed   2024-11-13 (in 365d)          obtaining\n"
        "own.test     user          2023-11-11 (expired 3d ago)   -\n"
        "pay.test     self-signed   2024-11-13 (in 365d)          next try in 3m0s: order: "
        "connection refused\n"
        "shop.test    acme          2024-02-12 (in 89d)           renews in 59d\n");
  CHECK(zlayer::cli::RenderCertificatesNotes(certs) ==
        "note: pay.test: no certificate for pay.test in /var/lib/zlayer/certs: self-signed\n");
}

TEST_CASE("certs says when ACME failed with no retry planned, and when its first try is due") {
  v1::ListCertificatesResponse certs;
  v1::Certificate* failed = certs.add_certificates();
  failed->set_host("a.test");
  failed->set_source("self-signed");
  failed->mutable_acme()->set_last_error("rate limited");
  v1::Certificate* waiting = certs.add_certificates();
  waiting->set_host("b.test");
  waiting->set_source("self-signed");
  *waiting->mutable_acme()->mutable_next_attempt() = ToTimestamp(kNow + 5s);
  CHECK(zlayer::cli::RenderCertificatesTable(certs, kNow) ==
        "HOST     SOURCE        EXPIRES   ACME\n"
        "a.test   self-signed   -         failed: rate limited\n"
        "b.test   self-signed   -         first try in 5.0s\n");
}

TEST_CASE("certs -o json names the fields as the API does, with an unset ACME as null") {
  v1::ListCertificatesResponse certs;
  v1::Certificate* c = certs.add_certificates();
  c->set_host("own.test");
  c->set_source("user");
  *c->mutable_not_after() = ToTimestamp(kNow);
  auto json = zlayer::cli::ToJson(certs);
  REQUIRE(json.ok());
  auto parsed = nlohmann::json::parse(*json);
  const auto& first = parsed["certificates"][0];
  CHECK(first["host"] == "own.test");
  CHECK(first["source"] == "user");
  CHECK(first["not_after"] == "2023-11-14T22:13:20.000000000Z");
  CHECK(first["acme"].is_null());
}

TEST_CASE("An accepted deploy shows the generation and each service's change") {
  v1::DeployAccepted a;
  a.set_deployment("hello");
  a.set_generation(4);
  a.set_changed(true);
  auto add = [&](const char* name, v1::ServiceChange::Kind kind, uint32_t before, uint32_t after) {
    auto* c = a.add_changes();
    c->set_service(name);
    c->set_kind(kind);
    c->set_replicas_before(before);
    c->set_replicas_after(after);
    return c;
  };
  add("api", v1::ServiceChange::KIND_ADD, 0, 2);
  auto* web = add("web", v1::ServiceChange::KIND_UPDATE, 2, 2);
  web->set_strategy(v1::UPDATE_STRATEGY_STOP_FIRST);
  web->set_strategy_reason("host port 8080 would collide");
  add("worker", v1::ServiceChange::KIND_SCALE, 1, 3);
  add("db", v1::ServiceChange::KIND_UNCHANGED, 1, 1);
  add("old", v1::ServiceChange::KIND_REMOVE, 1, 0);
  CHECK(zlayer::cli::RenderDeployAccepted(a) ==
        "deployment hello: generation 4 accepted\n"
        "  api: add, 2 replicas\n"
        "  web: update, stop-first (host port 8080 would collide), 2 replicas\n"
        "  worker: scale 1 -> 3 replicas\n"
        "  db: unchanged\n"
        "  old: remove, 1 replica\n");

  a.clear_changes();
  a.set_dry_run(true);
  CHECK(zlayer::cli::RenderDeployAccepted(a) ==
        "deployment hello: valid, would be generation 4 (dry run)\n");
  a.set_dry_run(false);
  a.set_changed(false);
  CHECK(zlayer::cli::RenderDeployAccepted(a) ==
        "deployment hello: unchanged, still generation 4\n");
}

TEST_CASE("deploy --wait progress and outcomes read as one line each") {
  v1::DeployResponse service;
  service.mutable_service()->set_service("web");
  service.mutable_service()->set_message("pulling busybox:latest");
  CHECK(zlayer::cli::RenderDeployProgress(service) == "web: pulling busybox:latest\n");

  v1::DeployResponse replica;
  replica.mutable_replica()->set_service("web");
  auto* r = replica.mutable_replica()->mutable_replica();
  r->set_container_id("hello-web-0");
  r->set_state(v1::Replica::STATE_RUNNING);
  r->set_health(v1::Replica::HEALTH_STARTING);
  CHECK(zlayer::cli::RenderDeployProgress(replica) == "web: hello-web-0 running, starting\n");

  v1::DeployFinished f;
  f.set_outcome(v1::DeployFinished::OUTCOME_CONVERGED);
  *f.mutable_elapsed() = Span(4200ms);
  CHECK(zlayer::cli::DescribeFinished(f) == "converged in 4.2s");
  f.set_outcome(v1::DeployFinished::OUTCOME_FAILED);
  f.set_message("web: rollout stopped");
  CHECK(zlayer::cli::DescribeFinished(f) == "failed after 4.2s: web: rollout stopped");
}

TEST_CASE("The agent's spec problems print like local ones") {
  v1::DeployRejected rejected;
  auto* p = rejected.add_problems();
  p->set_source_name("app.yaml");
  p->set_line(12);
  p->set_column(7);
  p->set_path("services.web.health.check.type");
  p->set_message("expected one of tcp, http, command");
  auto* q = rejected.add_problems();
  q->set_source_name("app.yaml");
  q->set_path("services");
  q->set_message("missing");
  CHECK(zlayer::cli::RenderProblems(zlayer::cli::ToProblems(rejected.problems())) ==
        "app.yaml:12:7: services.web.health.check.type: expected one of tcp, http, command\n"
        "app.yaml: services: missing\n");
}

TEST_CASE("status and inspect render the facts a user asks for") {
  v1::StatusResponse s;
  s.mutable_containerd()->set_reachable(true);
  s.mutable_containerd()->set_version("1.6.20");
  s.set_namespace_("zlayer");
  s.mutable_counts()->set_deployments(1);
  s.mutable_counts()->set_services(2);
  s.mutable_counts()->set_replicas_desired(3);
  s.mutable_counts()->set_replicas_running(2);
  s.mutable_counts()->set_replicas_failing(1);
  *s.mutable_agent_uptime() = Span(2h + 5min);
  auto* d = s.add_deployments();
  d->set_name("hello");
  d->set_generation(3);
  d->set_phase(v1::Deployment::PHASE_CONVERGED);
  std::string text = zlayer::cli::RenderStatus(s, kNow);
  CHECK_THAT(text, Catch::Contains("containerd:  reachable, version 1.6.20\n"));
  CHECK_THAT(text, Catch::Contains("agent:       up 2h5m\n"));
  CHECK_THAT(text, Catch::Contains("replicas:    2 of 3 running, 1 failing\n"));
  CHECK_THAT(text, Catch::Contains("hello        3            converged"));
  CHECK(text.find("loop lag") == std::string::npos);  // an agent that does not measure it

  s.mutable_loop_lag()->set_samples(1200);
  *s.mutable_loop_lag()->mutable_p50() = Span(120us);
  *s.mutable_loop_lag()->mutable_p99() = Span(4300us);
  *s.mutable_loop_lag()->mutable_max() = Span(250ms);
  *s.mutable_loop_lag()->mutable_interval() = Span(50ms);
  CHECK_THAT(zlayer::cli::RenderStatus(s, kNow),
             Catch::Contains("loop lag:    p50 0.12ms, p99 4.30ms, max 250ms (1200 samples, every "
                             "50ms)\n"));

  v1::InspectResponse inspect;
  auto* detail = inspect.add_replicas();
  detail->set_deployment("hello");
  detail->set_service("web");
  detail->mutable_replica()->set_container_id("hello-web-0");
  detail->mutable_replica()->set_state(v1::Replica::STATE_RUNNING);
  detail->mutable_config()->add_args("httpd");
  detail->mutable_config()->add_args("-f");
  detail->mutable_config()->set_memory_bytes(256 << 20);
  auto* check = detail->add_health_history();
  *check->mutable_started_at() = ToTimestamp(kNow - 12s);
  check->set_ok(false);
  check->set_code(1);
  check->set_output("connection refused\n");
  text = zlayer::cli::RenderInspect(inspect, kNow);
  CHECK_THAT(text, Catch::StartsWith("hello-web-0 (hello/web, replica 0, generation 0)\n"));
  CHECK_THAT(text, Catch::Contains("  args:       httpd -f\n"));
  CHECK_THAT(text, Catch::Contains("  limits:     memory 256MiB\n"));
  CHECK_THAT(text, Catch::Contains("12s ago      FAIL"));
  CHECK_THAT(text, Catch::Contains("connection refused\n"));
}

TEST_CASE(
    "health DEPLOYMENT names the first failing replica with its state, restarts and last exit") {
  auto list = SampleList();
  auto health = zlayer::cli::JudgeDeploymentHealth(list.deployments(0));
  CHECK_FALSE(health.healthy);
  CHECK(health.text ==
        "deployment hello: degraded: replica hello-web-1 backoff, unhealthy, 4 restarts, last exit "
        "137/SIGKILL (OOMKilled): back-off 1.6s after exit 137");
}

TEST_CASE("health DEPLOYMENT is healthy only when converged with no failing replica") {
  v1::Deployment d;
  d.set_name("hello");
  d.set_phase(v1::Deployment::PHASE_CONVERGED);
  auto* web = d.add_services();
  web->set_name("web");
  auto* r = web->add_replicas();
  r->set_container_id("hello-web-0");
  r->set_state(v1::Replica::STATE_RUNNING);
  auto healthy = zlayer::cli::JudgeDeploymentHealth(d);
  CHECK(healthy.healthy);
  CHECK(healthy.text == "deployment hello: converged, 1 replica running");

  d.set_phase(v1::Deployment::PHASE_PROGRESSING);
  d.set_message("web: waiting for db to be healthy (3s of 300s)");
  auto progressing = zlayer::cli::JudgeDeploymentHealth(d);
  CHECK_FALSE(progressing.healthy);
  CHECK(progressing.text ==
        "deployment hello: progressing: web: waiting for db to be healthy (3s of 300s)");

  d.set_phase(v1::Deployment::PHASE_CONVERGED);
  r->set_state(v1::Replica::STATE_FAILED);
  r->set_restart_count(3);
  r->mutable_last_exit()->set_code(1);
  r->mutable_last_exit()->set_reason("Error");
  auto failed = zlayer::cli::JudgeDeploymentHealth(d);
  CHECK_FALSE(failed.healthy);
  CHECK(failed.text ==
        "deployment hello: converged: replica hello-web-0 failed, 3 restarts, last exit 1 (Error)");
}
