"""`recovery-ops try`: one execution of a team's state machine beside the recovery service, answered
from the terminal.

The definition (readied by ``recovery_ops.service.local.programs.try_definition``) is created in the embedded
stack next
to the recovery service, as ``recovery_ops.service.local.engine.own_workflows`` does; its Lambda tasks run as
functions
of this process (the person's, or their input back; a ``--fail`` state raising until it is run
again from the desk). One execution starts; whenever it pauses for a person, the collector posts
its recovery to Slack, the terminal shows the message as the demo does
(``recovery_ops.service.local.standin.transcript``) and asks: Run again, Edit input (the person's ``$EDITOR``
on the
input JSON), Reject (with a reason) or Quit. The answer goes to the Slack app as a signed click
at the desk (``recovery_ops.service.local.desk``). With ``SLACK_BOT_TOKEN`` the messages go to the workspace
instead
(``recovery_ops.service.local.standin.local_slack``) and the answer goes through the recovery core that
``recovery-ops retry``/``reject`` use, which updates the message there. At the end: the
execution's status, its path through the states, and its output.

The terminal's questions are read from a stream, a line per answer, so a script can answer them.
"""

from __future__ import annotations

import getpass
import json
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.local.desk import ActionNotDoneError, Desk
from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.execution_history import (
    POLL_SECONDS,
    TERMINAL,
    history,
    state_path,
    state_steps,
)
from recovery_ops.service.local.engine.iam_check import describe
from recovery_ops.service.local.engine.own_workflows import deploy_function, deploy_state_machine
from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack, quiet_interpreter_logs
from recovery_ops.service.local.engine.team_template import deploy_template
from recovery_ops.service.local.programs.try_definition import Failure, TryPlan, recovery_states
from recovery_ops.service.local.standin.local_slack import LocalSlack, local_slack
from recovery_ops.service.local.standin.transcript import SlackTranscript
from recovery_ops.service.recovery.model.input_edit import InputProblemError, parse_edited_input
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore

if TYPE_CHECKING:
    from recovery_ops.service.config import TrySettings
    from recovery_ops.service.operator import Operator

#: who answers at the terminal, as the Slack app knows them (the only person it lets act)
TERMINAL_USER = "UTERMINAL"
DEFAULT_WAIT_SECONDS = 120.0

RUN_AGAIN, EDIT, REJECT, QUIT = "run again", "edit input", "reject", "quit"
ANSWERS = {
    "r": RUN_AGAIN,
    "run": RUN_AGAIN,
    "run again": RUN_AGAIN,
    "e": EDIT,
    "edit": EDIT,
    "edit input": EDIT,
    "j": REJECT,
    "reject": REJECT,
    "q": QUIT,
    "quit": QUIT,
}
QUESTION = "  Run again [r], Edit input [e], Reject [j] or Quit [q]? "


class Terminal:
    """Lines to the screen, answers from ``answers`` (a line each; the end of the stream is Quit).

    Answers that do not come from a person at a terminal are shown after their question, so the
    transcript of a scripted session reads as it happened."""

    def __init__(self, answers: TextIO, screen: TextIO) -> None:
        self._answers = answers
        self._screen = screen

    def say(self, line: str) -> None:
        self._screen.write(line + "\n")
        self._screen.flush()

    def ask(self, question: str) -> str | None:
        self._screen.write(question)
        self._screen.flush()
        line = self._answers.readline()
        if not self._answers.isatty() or not line:
            self._screen.write(line.rstrip("\n") + "\n")
        return line.strip() if line else None


@dataclass(frozen=True)
class TryOutcome:
    execution_arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    pauses: int = 0  # how many times it waited for a person


class EditCancelledError(RecoveryOpsError, RuntimeError):
    """The edit was given up (the editor failed): nothing is sent."""


def edit_with(editor: str, text: str, name: str) -> str:
    """``text`` after ``editor`` (a command, with its own arguments) edited it in a file ``name``.json."""
    with tempfile.TemporaryDirectory(prefix="recovery-ops-try-") as directory:
        path = Path(directory) / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        try:
            completed = subprocess.run([*shlex.split(editor), str(path)], check=False)
        except OSError as exc:
            raise EditCancelledError(f"cannot start EDITOR ({editor}): {exc.strerror or exc}") from exc
        if completed.returncode != 0:
            raise EditCancelledError(f"EDITOR ({editor}) exited with {completed.returncode}")
        return path.read_text(encoding="utf-8")


class FailureSwitches:
    """The ``--fail`` states still failing: each fails until its recovery is run again from the desk."""

    def __init__(self, failures: tuple[Failure, ...]) -> None:
        self._on = {failure.task: failure for failure in failures}
        self._lock = threading.Lock()

    def failure_of(self, task: str) -> Failure | None:
        with self._lock:
            return self._on.get(task)

    def switch_off(self, failed_state: str) -> list[Failure]:
        """The failures of ``failed_state`` (as a recovery names it) stop; those that did."""
        with self._lock:
            stopped = [
                f
                for f in self._on.values()
                if failed_state in (f.state, f.task) or f.task == failed_state + ": run"
            ]
            for failure in stopped:
                del self._on[failure.task]
            return stopped

    def switch_on(self, failures: list[Failure]) -> None:
        with self._lock:
            self._on.update({failure.task: failure for failure in failures})


def run_try(
    plan: TryPlan,
    settings: TrySettings,
    terminal: Terminal,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> TryOutcome:
    """Deploy ``plan`` beside the recovery service, run it once, answer its pauses from ``terminal``."""
    say = terminal.say
    quiet_interpreter_logs()
    say(f"recovery-ops try {plan.path}: on an embedded moto stack beside the recovery service (no AWS)")
    with ExitStack() as resources:
        slack, stack = _recovery_service(resources, settings)
        session = _Session(plan, stack, slack, terminal, settings.editor, wait_seconds)
        return session.run()


def _recovery_service(
    resources: ExitStack,
    settings: TrySettings,
    iam: bool | None = None,
    parameters: dict[str, str] | None = None,
) -> tuple[LocalSlack, EmbeddedStack]:
    """The Slack side ``settings`` choose and the recovery service deployed beside it (without the
    order example; the terminal's person the one allowed to act), both closed with ``resources``."""
    slack = resources.enter_context(local_slack(settings))
    stack = resources.enter_context(
        embedded_stack(
            parameters={
                "DeployOrderExample": "false",
                "SlackDefaultChannel": slack.channel,
                "SlackAllowedUserIds": TERMINAL_USER,
                **(parameters or {}),
            },
            secrets=slack.secrets(),
            environment=slack.environment(),
            quiet=True,
            iam=iam,
        )
    )
    return slack, stack


def run_try_template(
    template: Path,
    state_machine: str,
    settings: TrySettings,
    terminal: Terminal,
    *,
    input: Any = None,
    parameters: dict[str, str] | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> TryOutcome:
    """Deploy the team's ``template`` beside the recovery service (its functions, tables, topics and
    roles: ``team_template``), run its ``state_machine`` once, answer its pauses from ``terminal``.
    What the template cannot have (an unsupported resource, a wrong handler path, a missing grant)
    is raised before anything runs."""
    say = terminal.say
    quiet_interpreter_logs()
    say(
        f"recovery-ops try --template {template}: on an embedded moto stack beside the recovery service"
        " (no AWS)"
    )
    with ExitStack() as resources:
        slack, stack = _recovery_service(resources, settings, iam=True)
        team = deploy_template(stack, template, parameters)
        definition = team.definitions[state_machine]
        plan = TryPlan(
            path=_definition_path(template, state_machine),
            definition=definition,
            tasks=(),
            input={} if input is None else input,
            recovery_states=recovery_states(definition),
        )
        for logical_id, name in team.functions.items():
            say(f"  function {logical_id} ({name}): its template Handler, run in this process")
        for kind, named in (("table", team.tables), ("queue", team.queues), ("topic", team.topics)):
            for logical_id in named:
                say(f"  {kind} {logical_id}: created from the template")
        if team.not_emulated:
            say(f"  left out (nothing in a run uses them): {', '.join(team.not_emulated)}")
        session = _TemplateSession(
            plan, stack, slack, terminal, settings.editor, wait_seconds, team.state_machines[state_machine]
        )
        outcome = session.run()
        if stack.iam is not None:
            ours = {*team.functions, *team.state_machines}
            denied = [call for call in stack.iam.denied if call.principal in ours]
            if denied:
                say(describe(denied))
                return replace(outcome, status="DENIED" if outcome.status == "SUCCEEDED" else outcome.status)
        return outcome


def _definition_path(template: Path, state_machine: str) -> Path:
    """The state machine's ASL file as the person would name it (beside the template they gave)."""
    props = load_template(template.resolve())["Resources"][state_machine].get("Properties", {})
    uri = props.get("DefinitionUri")
    return template.parent / uri if isinstance(uri, str) else template


class _Session:
    def __init__(
        self,
        plan: TryPlan,
        stack: EmbeddedStack,
        slack: LocalSlack,
        terminal: Terminal,
        editor: str | None,
        wait_seconds: float,
    ) -> None:
        self._plan = plan
        self._stack = stack
        self._slack = slack
        self._terminal = terminal
        self._say = terminal.say
        self._editor = editor
        self._wait_seconds = wait_seconds
        self._sfn = stack.client("stepfunctions")
        self._store = RecoveryStore(
            stack.physical("RecoveriesTable"), stack.client("dynamodb"), payloads=stack.payloads()
        )
        self._switches = FailureSwitches(plan.failures)
        self._transcript = SlackTranscript(slack.standin, self._say)
        self._desk = (
            None if slack.standin is None else Desk(stack, slack.standin, TERMINAL_USER, slack.signing_secret)
        )
        self._operator = self._workspace_operator() if slack.standin is None else None

    # ------------------------------------------------------------------ the run
    def run(self) -> TryOutcome:
        plan, say = self._plan, self._say
        machine_arn = self._deploy()
        if self._slack.in_workspace:
            say(f"  Slack: your workspace, channel #{self._slack.channel}")
            say("  answer here: clicks in Slack do not reach this local run")
        else:
            say(
                "  Slack: a local stand-in, its messages shown here (SLACK_BOT_TOKEN: your workspace instead)"
            )
        if not plan.recovery_states and not self._durable:
            say(
                f"  note: no state of {plan.path} sends to the recovery queue:"
                " nothing in it can pause for a person"
            )
        name = f"try-{plan.name}"
        execution_arn = self._start(machine_arn, name)
        say(f"  started execution {name} with input {json.dumps(plan.input, ensure_ascii=False)[:200]}")
        say("")
        pauses = 0
        handled: set[str] = set()
        while True:
            found = self._next(execution_arn, handled)
            if not isinstance(found, Recovery):
                break
            pauses += 1
            if not self._answer(found):
                break
            handled.add(found.recovery_id)
        return self._end(execution_arn, pauses)

    _durable = False  # a state machine's session; a durable function's says True

    def _start(self, machine_arn: str, name: str) -> str:
        return str(
            self._sfn.start_execution(
                stateMachineArn=machine_arn, name=name, input=json.dumps(self._plan.input)
            )["executionArn"]
        )

    def _ended(self, execution_arn: str) -> dict | None:
        """The execution as described once it ended; None while it runs."""
        described = self._sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] in TERMINAL else None

    def _deploy(self) -> str:
        plan, say = self._plan, self._say
        functions: dict[str, str] = {}
        for warning in plan.unemulated():
            say(f"  note: {warning}")
        for function_name, handler in plan.runtime_functions.items():
            deploy_function(self._stack, function_name, handler)  # called by this name when a run chooses it
            spec = plan.runtime_function_names[function_name]
            say(
                f"  Lambda function {function_name}: answered by {spec} "
                "(a task that chooses its function when it runs may call it)"
            )
        for index, task in enumerate(plan.tasks, start=1):
            if task.chosen_when_run:
                say(f'  Lambda task "{task.named}": chooses its function when it runs (FunctionName.$)')
                continue
            function_name = f"{self._stack.name}-try-{index}"
            functions[task.state] = function_name
            deploy_function(self._stack, function_name, self._answer_for(task.state))
            answered_by = plan.handler_names.get(task.state)
            failing = self._switches.failure_of(task.state)
            say(
                f'  Lambda task "{task.named}" ({task.function}): '
                + (f"answered by {answered_by}" if answered_by else "answers its input back")
                + (f"; fails with {failing.error} until it is run again from the desk" if failing else "")
            )
        for state in plan.recovery_states:
            say(f'  recovery request for "{state}": sends to the recovery queue and waits for a person')
        definition = plan.deployable(functions, self._stack.physical("RecoveryQueue"))
        return deploy_state_machine(self._stack, plan.name, definition)

    def _answer_for(self, task: str) -> Callable[[Any, Any], Any]:
        handler = self._plan.handlers.get(task)

        def answer(event: Any, context: Any) -> Any:
            failure = self._switches.failure_of(task)
            if failure is not None:
                error = type(failure.error, (Exception,), {})
                raise error(
                    f'"{failure.state}" fails on purpose (recovery-ops try --fail) until it is run again '
                    "from the desk"
                )
            return event if handler is None else handler(event, context)

        return answer

    def _next(self, execution_arn: str, handled: set[str]) -> Recovery | dict | None:
        """The next recovery of the execution to answer, or the execution once it ended (None: neither
        came within the wait)."""
        deadline = time.monotonic() + self._wait_seconds
        while True:
            poll_collector(self._stack)
            self._transcript.show_new()
            ended = self._ended(execution_arn)
            if ended is not None:
                return ended
            waiting = [
                r
                for r in self._store.list_by_status(RecoveryStatus.OPEN, limit=100)
                if r.execution_arn == execution_arn and r.recovery_id not in handled
            ]
            if waiting:
                return min(waiting, key=lambda r: r.requested_at)
            if time.monotonic() > deadline:
                self._say(
                    f"  the execution neither paused nor ended within {self._wait_seconds:g} s"
                    " (--wait-seconds): it is left running"
                )
                return None
            time.sleep(POLL_SECONDS * 5)

    # ------------------------------------------------------------------ answering
    def _answer(self, recovery: Recovery) -> bool:
        """Ask about ``recovery`` until it is handled (True) or the person quits (False)."""
        say = self._say
        say(
            f'  "{recovery.failed_state}" paused for a person: {recovery.error or "unknown error"}'
            f" ({recovery.routing})"
        )
        if self._operator is not None:
            self._operator.show(recovery.recovery_id)
        while True:
            given = self._terminal.ask(QUESTION)
            if given is None:
                return False
            choice = ANSWERS.get(given.lower())
            if choice is None:
                say("  say r (Run again), e (Edit input), j (Reject) or q (Quit)")
                continue
            if choice == QUIT:
                return False
            if self._act(choice, recovery):
                self._transcript.show_new()
                return True
            self._transcript.show_new()

    def _act(self, choice: str, recovery: Recovery) -> bool:
        try:
            if choice == RUN_AGAIN:
                return self._run_again(recovery)
            if choice == EDIT:
                return self._edit(recovery)
            return self._reject(recovery)
        except ActionNotDoneError as problem:
            self._say(f"  the Slack app did not act: {problem}")
            return False

    def _run_again(self, recovery: Recovery) -> bool:
        def send() -> bool:
            if self._desk is None:
                assert self._operator is not None  # no stand-in to click in: the command line acts
                return self._operator.retry(recovery.recovery_id).done
            self._say(f"  <@{TERMINAL_USER}> clicks [ Run again ] (a signed request to the Slack app)")
            return self._desk.run_again(recovery).status is RecoveryStatus.RESUMED

        return self._resuming(recovery, send)

    def _resuming(self, recovery: Recovery, send: Callable[[], bool]) -> bool:
        """``send`` a Run again (or an edited one) with the ``--fail`` of its state off, so the state
        answers this time; the failure stays on when nothing was resumed."""
        stopped = self._switches.switch_off(recovery.failed_state)
        resumed = False
        try:
            resumed = send()
            return resumed
        finally:
            if not resumed:
                self._switches.switch_on(stopped)

    def _edit(self, recovery: Recovery) -> bool:
        say = self._say
        form = None
        if self._desk is None:
            text = json.dumps(recovery.input, indent=1, ensure_ascii=False)
        else:
            say(f"  <@{TERMINAL_USER}> clicks [ Edit input & run again ]: the Slack app opens its modal")
            form = self._desk.open_edit(recovery)
            text = form.text
        edited = self._edited(text, recovery)
        if edited is None:
            return False
        try:
            parse_edited_input(edited)
        except InputProblemError as problem:
            say(f"  not sent: {problem}")
            return False

        def send() -> bool:
            if self._desk is None:
                assert self._operator is not None  # no stand-in to click in: the command line acts
                with tempfile.TemporaryDirectory(prefix="recovery-ops-try-") as directory:
                    path = Path(directory) / "input.json"
                    path.write_text(edited, encoding="utf-8")
                    return self._operator.retry(recovery.recovery_id, input_file=path).done
            assert form is not None  # opened above, whenever there is a stand-in to click in
            say(f"  <@{TERMINAL_USER}> submits the modal: [ Run again ]")
            return self._desk.submit_edit(recovery, form, edited).status is RecoveryStatus.RESUMED

        return self._resuming(recovery, send)

    def _edited(self, text: str, recovery: Recovery) -> str | None:
        if not self._editor:
            self._say("  the input now (EDITOR is not set: give the new input as one line of JSON):")
            for line in text.splitlines():
                self._say(f"    {line}")
            return self._terminal.ask("  new input> ")
        self._say(f"  opening the input in {self._editor}")
        try:
            return edit_with(self._editor, text, f"{recovery.execution_name}-input")
        except EditCancelledError as problem:
            self._say(f"  not sent: {problem}")
            return None

    def _reject(self, recovery: Recovery) -> bool:
        reason = (self._terminal.ask("  reason (shown in Slack; empty for none)> ") or "").strip() or None
        if self._desk is None:
            assert self._operator is not None  # no stand-in to click in: the command line acts
            return self._operator.reject(recovery.recovery_id, reason).done
        self._say(f"  <@{TERMINAL_USER}> clicks [ Reject ] and submits the modal with the reason")
        self._desk.reject(recovery, reason)
        return True

    def _workspace_operator(self) -> Operator:
        from recovery_ops.service.composition import build_services
        from recovery_ops.service.config import ServicesConfig
        from recovery_ops.service.operator import Operator
        from recovery_ops.slack_app.web import web_client

        client = web_client(self._slack.token, base_url=self._slack.api_url)
        config = ServicesConfig(recoveries_table_name=self._stack.physical("RecoveriesTable"))
        services = build_services(config, self._stack.client, client)
        return Operator.at(
            services, f"cli:{getpass.getuser()}", out=lambda line: self._say("  recovery-ops: " + line)
        )

    # ------------------------------------------------------------------ the end
    def _end(self, execution_arn: str, pauses: int) -> TryOutcome:
        say = self._say
        described = self._sfn.describe_execution(executionArn=execution_arn)
        status = described["status"]
        events = history(self._sfn, execution_arn)
        say("")
        say(f"execution {described['name']}: {status}")
        say(f"  path: {state_path(events)}")
        output = json.loads(described["output"]) if described.get("output") else None
        error, cause = described.get("error"), described.get("cause")
        self._say_end(status, output, error, cause and _readable_cause(cause))
        if status in TERMINAL and pauses == 0:
            self._never_paused(events)
        return TryOutcome(execution_arn, status, output, error, cause, pauses)

    def _say_end(self, status: str, output: Any, error: str | None, cause: str | None) -> None:
        say = self._say
        if status == "RUNNING":
            say("  it is still running, and ends with this local run")
        if error:
            say(f"  error: {error}")
        if cause:
            say(f"  cause: {cause[:1000]}")
        if output is not None:
            say("  output:")
            for line in json.dumps(output, indent=2, ensure_ascii=False).splitlines():
                say(f"    {line}")

    def _never_paused(self, events: list[dict]) -> None:
        say, plan = self._say, self._plan
        say("  it ended without ever reaching the recovery queue: nothing paused for a person.")
        if plan.recovery_states:
            states = " ".join(f'--fail "{state}"' for state in plan.recovery_states[:3])
            say(f"  none of its recovery requests was needed; to see one pause, try it with {states}")
            return
        named = {task.state: task.named for task in plan.tasks}
        failed = [named[step.name] for step in state_steps(events) if step.error and step.name in named]
        chosen = list(dict.fromkeys(failed or [f.state for f in plan.failures] or list(named.values())))[:3]
        if not chosen:
            say("  it has no Lambda task to instrument: see recovery-ops instrument --help")
            return
        # the path as the person gave it, the result beside it: commands they can paste as they are
        recovering = plan.path.with_name(
            plan.path.name.removesuffix(".json").removesuffix(".asl") + ".recovering.asl.json"
        )
        source, result = shlex.quote(str(plan.path)), shlex.quote(str(recovering))
        states = " ".join(f"--state {shlex.quote(state)}" for state in chosen)
        say("  to have a failing Task pause for a person instead, instrument it and try the result:")
        say(f"    recovery-ops instrument {source} {states} -o {result}")
        fail = " ".join(f"--fail {shlex.quote(state)}" for state in chosen[:1])
        say(f"    recovery-ops try {result} {fail}")


def _readable_cause(cause: str) -> str:
    """A Lambda function's error as its message (its cause is the whole error object, trace included)."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return parsed["errorMessage"]
    return cause


class _TemplateSession(_Session):
    """A session whose state machine the team's template created (its functions are the template's)."""

    def __init__(
        self,
        plan: TryPlan,
        stack: EmbeddedStack,
        slack: LocalSlack,
        terminal: Terminal,
        editor: str | None,
        wait_seconds: float,
        state_machine_arn: str,
    ) -> None:
        super().__init__(plan, stack, slack, terminal, editor, wait_seconds)
        self._arn = state_machine_arn

    def _deploy(self) -> str:
        for state in self._plan.recovery_states:
            self._say(f'  recovery request for "{state}": sends to the recovery queue and waits for a person')
        return self._arn


def run_try_durable(
    handler: Callable[..., Any],
    function_name: str,
    settings: TrySettings,
    terminal: Terminal,
    *,
    input: Any = None,  # noqa: A002 - the execution's input, as for a state machine
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> TryOutcome:
    """Run the durable function ``handler`` once in AWS's local runner beside the recovery service
    (watched as ``function_name``), and answer its pauses (``wait_for_recovery``) from ``terminal``."""
    say = terminal.say
    quiet_interpreter_logs()
    say(f"recovery-ops try --durable {function_name}: in AWS's local durable runner beside the service")
    with ExitStack() as resources:
        slack, stack = _recovery_service(
            resources, settings, iam=True, parameters={"WatchedDurableFunctions": function_name}
        )
        plan = TryPlan(
            path=Path(function_name),
            definition={},
            tasks=(),
            input={} if input is None else input,
            recovery_states=(),
        )
        session = _DurableSession(plan, stack, slack, terminal, settings.editor, wait_seconds, handler)
        return session.run()


class _DurableSession(_Session):
    """A session whose workflow is a Lambda durable function run in the stack's durable host."""

    _durable = True

    def __init__(
        self,
        plan: TryPlan,
        stack: EmbeddedStack,
        slack: LocalSlack,
        terminal: Terminal,
        editor: str | None,
        wait_seconds: float,
        handler: Callable[..., Any],
    ) -> None:
        super().__init__(plan, stack, slack, terminal, editor, wait_seconds)
        self._handler = handler
        assert stack.durable is not None  # every embedded stack runs a durable host
        self._host = stack.durable

    def _deploy(self) -> str:
        self._host.register(self._plan.name, self._handler)
        self._say(
            f"  durable function {self._plan.name}: run in this process; a step that calls "
            "wait_for_recovery sends to the recovery queue and waits for a person"
        )
        return self._plan.name

    def _start(self, machine_arn: str, name: str) -> str:
        return self._host.start(machine_arn, self._plan.input, execution_name=name)

    def _ended(self, execution_arn: str) -> dict | None:
        now = self._host.describe(execution_arn)
        return None if now.status in ("RUNNING", "PAUSING", "PAUSED") else {"status": now.status}

    def _end(self, execution_arn: str, pauses: int) -> TryOutcome:
        say = self._say
        now = self._host.describe(execution_arn)
        error = (now.error or {}).get("ErrorType")
        cause = (now.error or {}).get("ErrorMessage")
        output = json.loads(now.result) if now.result is not None else None
        say("")
        say(f"durable execution of {self._plan.name}: {now.status}")
        self._say_end(now.status, output, error, cause)
        if now.status != "RUNNING" and pauses == 0:
            say("  it ended without ever reaching the recovery queue: nothing paused for a person.")
            say("  a step that still fails after its retries pauses when its handler calls wait_for_recovery")
        return TryOutcome(execution_arn, now.status, output, error, cause, pauses)
