"""shell = true: every placeholder's value is quoted for where it lands (issue 18, item 11).

A value the user did not type (the scenario's folder, the case's work folder, the
harness's interpreter) is text, never shell code: a folder named  x';touch $MARK;'y
must reach the app as that name, and touch must not run. What the app received is
read back from the app itself and compared with the value, byte for byte.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from shutdown_probe.errors import ScenarioError
from shutdown_probe.scenario import load_scenario, substitute_shell

HOSTILE = "x';touch $MARK;'y"
# Every way out of a context: quotes of both kinds, expansions, a backslash, a newline.
NASTY = [HOSTILE, "a\"b$(touch $MARK)c`touch $MARK`d\\", "e\nf; touch $MARK #", "", "'", "\\", "${MARK}", "-n",
         # bash reads $'...' with backslash escapes: \' there does not end the string
         "x\\'X'Y;touch $MARK;#"]

# /bin/sh is dash on Debian but bash on other systems (and in bash's POSIX mode on
# some): the quoting must hold in each. A shell not installed is skipped.
SHELLS = {"sh": ["/bin/sh", "-c"], "bash-posix": ["bash", "--posix", "-c"], "bash": ["bash", "-c"]}


# (template, what printf must print for value v and the mark file's path m)
TEMPLATES = {
    "plain": ("printf %s {workdir}", lambda v, m: v),
    "single": ("printf %s '{workdir}'", lambda v, m: v),
    "double": ('printf %s "{workdir}"', lambda v, m: v),
    "mixed": ("printf %s a{workdir}'b{workdir}'\"c{workdir}\"", lambda v, m: f"a{v}b{v}c{v}"),
    "after-${NAME}": ('printf %s "${{MARK}}"{workdir}', lambda v, m: m + v),
    # a list command with shell = true is joined into one script; printf repeats %s
    "joined-list": (shlex.join(["printf", "%s", "{workdir}", "it's {workdir}"]), lambda v, m: f"{v}it's {v}"),
}


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("value", NASTY, ids=repr)
@pytest.mark.parametrize("name", TEMPLATES)
def test_a_value_reaches_the_shell_as_text(tmp_path, name, value, shell):
    argv = SHELLS[shell]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    template, expected = TEMPLATES[name]
    mark = tmp_path / "mark"
    script = substitute_shell(template, {"workdir": value})
    done = subprocess.run([*argv, script], capture_output=True, env={**os.environ, "MARK": str(mark)},
                          cwd=tmp_path, timeout=30)
    assert not mark.exists(), script
    assert done.stdout.decode() == expected(value, str(mark)), (script, done.stderr)


@pytest.mark.parametrize("command", [
    "echo $(date) {workdir}", "echo `date` {workdir}", 'echo "$(date)" {workdir}', "echo ${{X:-a}} {workdir}",
    "cat <<EOF\n{workdir}\nEOF", "echo $'a' {workdir}", "echo hi # {workdir}", "echo \\{workdir}",
    "echo ${workdir}", 'echo "${workdir}"', "echo \\$${workdir}",
], ids=["$()", "backticks", "quoted-$()", "${X:-a}", "here-document", "$'...'", "comment", "backslash",
        "after-$", "after-$-quoted", "after-\\$-then-$"])
def test_a_placeholder_the_harness_cannot_quote_is_refused_in_one_line(tmp_path, command):
    path = tmp_path / "s.toml"
    path.write_text("[app]\nshell = true\ncommand = " + json.dumps(command) + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: app.command: {{workdir}} ") and "\n" not in message, message
    assert "app.env" in message  # says what to do instead


APP = r'''
import json, os, signal, sys
with open(os.environ["OUT"], "w") as f:
    json.dump({"argv": sys.argv[1:], "python": sys.executable}, f)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("ready", flush=True)
while True:
    signal.pause()
'''


@pytest.mark.parametrize("form", ["string", "list"])
def test_hostile_folder_interpreter_and_tmp_never_run_as_shell_code(tmp_path, form):
    """A real run: the scenario's folder, the temp folder (so {workdir}) and the path of
    the harness's own interpreter (so {python}) each carry a shell payload."""
    folder = tmp_path / HOSTILE
    folder.mkdir()
    (folder / "app.py").write_text(APP)
    hostile_tmp = tmp_path / "t';touch $MARK;'t"
    hostile_tmp.mkdir()
    bindir = tmp_path / "p';touch $MARK;'p"
    bindir.mkdir()
    python = bindir / "python"
    python.symlink_to(sys.executable)  # sys.executable keeps the link's own path
    out, mark = tmp_path / "argv.json", tmp_path / "mark"
    args = ["{python}", "{scenario_dir}/app.py", "{workdir}", "{scenario_dir}", "{port}"]
    if form == "string":  # each placeholder in each of the three contexts
        command = json.dumps("exec {python} {scenario_dir}/app.py '{workdir}' \"{scenario_dir}\" {port}")
    else:
        command = json.dumps(args)
    scenario = folder / "s.toml"
    scenario.write_text(f'''paths = ["sigterm"]
[app]
shell = true
probe = false
command = {command}
env = {{ OUT = {json.dumps(str(out))} }}
ready = {{ log = "^ready$" }}
''')
    # The harness runs from the link: its sys.path is this test's (plus the worktree).
    env = {"MARK": str(mark), "TMPDIR": str(hostile_tmp),
           "PYTHONPATH": os.pathsep.join([str(ROOT), *(p for p in sys.path if p)])}
    done = subprocess.run([str(python), "-m", "shutdown_probe", "run", str(scenario), "--jobs", "1"],
                          cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert not mark.exists(), "a placeholder's value ran as shell code"
    assert done.returncode == 0, done.stdout + done.stderr
    got = json.loads(out.read_text())
    workdir, scenario_dir, port = got["argv"]
    assert got["python"] == str(python)
    assert scenario_dir == str(folder)
    assert Path(workdir).parent == hostile_tmp and Path(workdir).name.startswith("shutdown-probe-sigterm-")
    assert port.isdigit() and 0 < int(port) < 65536


def test_a_placeholder_after_a_bare_dollar_is_refused_before_bash_can_run_it(tmp_path):
    """The reviewer's case: with /bin/sh being bash, `echo ${scenario_dir}` in a folder
    named x\\'X'Y;touch $MARK;# became echo $'x\\'"'"'X...', which bash reads as a
    $'...' string, so the quoting ended early and touch ran."""
    folder = tmp_path / "x\\'X'Y;touch $MARK;#"
    folder.mkdir()
    scenario = folder / "s.toml"
    scenario.write_text('paths = ["sigterm"]\n[app]\nshell = true\ncommand = "echo ${scenario_dir}"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert "app.command: {scenario_dir} follows a bare $" in str(info.value)
    assert "\n" not in str(info.value)
