"""A locustfile written for plain Locust, run unchanged by the harness.

    locust -f scenarios/load/locustfile_moonbase.py --headless --host http://127.0.0.1:8000
    reliable-test-runner load --locustfile scenarios/load/locustfile_moonbase.py

Two User classes (a browsing HttpUser and a FastHttpUser health prober), weighted tasks,
``wait_time``, ``on_start``, ``catch_response`` and named requests, and a LoadTestShape
that steps the users up and ends the run. Under the harness every request lands in its
HdrHistograms, per request name and in total, and the profile's load gates judge them.
Only the reference Moonbase v0 API's public routes are used (no token needed); the one
mutating call checks that the API refuses it without a token.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, HttpUser, LoadTestShape, between, constant, task


class Browser(HttpUser):
    """Reads what a dashboard reads."""

    weight = 3
    wait_time = between(0.005, 0.02)

    def on_start(self) -> None:
        # a real client checks the service is up before it browses
        self.client.get("/api/v0/health/ready")

    @task(5)
    def ping(self) -> None:
        self.client.get("/api/v0/ping")

    @task(2)
    def list_pods(self) -> None:
        self.client.get("/api/v0/pods")

    @task(1)
    def missing_pod(self) -> None:
        # a pod id that does not exist: 404 is the right answer, anything else a failure
        pod_id = f"no-such-pod-{random.randrange(1_000_000)}"
        with self.client.get(
            f"/api/v0/pods/{pod_id}", name="/api/v0/pods/[id]", catch_response=True
        ) as response:
            if response.status_code == 404:
                response.success()
            else:
                response.failure(f"expected 404 for an unknown pod, got {response.status_code}")

    @task(1)
    def create_without_token(self) -> None:
        with self.client.post(
            "/api/v0/pods",
            json={"name": "p1"},
            name="/api/v0/pods (no token)",
            catch_response=True,
        ) as response:
            if response.status_code == 401:
                response.success()
            else:
                response.failure(f"expected 401 without a token, got {response.status_code}")


class Prober(FastHttpUser):
    """Watches health the way a load balancer does."""

    weight = 1
    wait_time = constant(0.01)

    @task(3)
    def live(self) -> None:
        self.client.get("/api/v0/health/live")

    @task(1)
    def health(self) -> None:
        with self.client.get("/api/v0/health", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"health answered {response.status_code}")


class StepShape(LoadTestShape):
    """4 users for 2 s, then 8 for 2 s, then the run ends."""

    steps = ((2.0, 4, 50.0), (4.0, 8, 50.0))

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        for end_s, users, spawn_rate in self.steps:
            if run_time < end_s:
                return users, spawn_rate
        return None
