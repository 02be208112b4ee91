"""`settings.tls` (router/config/tls.py): paths relative to the YAML file, every file loaded
at validation, problems with file:line, and `router validate` saying so."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import trustme

from router.cli import main
from router.config import load_config
from tests.config.support import problems, write


@pytest.fixture
def pems(tmp_path: Path) -> Path:
    """config/tls/ with router.pem and router.key from one CA, other.key from another,
    senders.pem (a CA certificate) and junk.pem."""
    directory = tmp_path / "config" / "tls"
    directory.mkdir(parents=True)
    issued = trustme.CA().issue_cert("router.example.com")
    issued.cert_chain_pems[0].write_to_path(str(directory / "router.pem"))
    issued.private_key_pem.write_to_path(str(directory / "router.key"))
    trustme.CA().issue_cert("x").private_key_pem.write_to_path(str(directory / "other.key"))
    trustme.CA().cert_pem.write_to_path(str(directory / "senders.pem"))
    (directory / "junk.pem").write_text("-----BEGIN NOTHING-----\n")
    return directory


def settings(directory: Path, tls: str) -> Path:
    return write(directory, "settings.yaml", f"""
        settings:
          timezone: UTC
          tls: {tls}
        """)


def test_paths_are_relative_to_the_file_and_the_mode_defaults_to_none(pems: Path) -> None:
    path = settings(pems.parent, "{cert: tls/router.pem, key: tls/router.key}")
    tls = load_config([path]).settings.tls
    assert tls is not None
    assert (tls.certificate, tls.key, tls.client_ca, tls.client_certificates) == (
        str(pems / "router.pem"), str(pems / "router.key"), None, "none")
    assert load_config([write(pems.parent, "plain.yaml", "settings: {timezone: UTC}\n")]
                       ).settings.tls is None


def test_client_certificates(pems: Path) -> None:
    path = settings(pems.parent, "{cert: tls/router.pem, key: tls/router.key, "
                                 "client_ca: tls/senders.pem, client_certificates: required}")
    tls = load_config([path]).settings.tls
    assert tls is not None
    assert (tls.client_ca, tls.client_certificates) == (str(pems / "senders.pem"), "required")


@pytest.mark.parametrize(("tls", "expected"), [
    ("{cert: tls/gone.pem, key: tls/router.key}",
     "settings.yaml:3:15: settings.tls.cert: no such file: '{dir}/gone.pem'"),
    ("{cert: tls/junk.pem, key: tls/router.key}",
     "settings.yaml:3:15: settings.tls.cert: '{dir}/junk.pem' does not load: no valid "
     "PEM certificate in it"),
    ("{cert: tls/router.pem, key: tls/other.key}",
     "settings.yaml:3:36: settings.tls.key: '{dir}/other.key' is not the private key of the "
     "certificate in '{dir}/router.pem'"),
    ("{cert: tls/router.pem, key: tls/junk.pem}",
     "settings.yaml:3:36: settings.tls.key: '{dir}/junk.pem' does not load: no PEM private key "
     "in it"),
    ("{cert: tls/router.pem, key: tls/gone.key}",
     "settings.yaml:3:36: settings.tls.key: no such file: '{dir}/gone.key'"),
    ("{cert: tls/router.pem, key: tls/router.key, client_ca: tls/junk.pem, "
     "client_certificates: optional}",
     "settings.yaml:3:63: settings.tls.client_ca: '{dir}/junk.pem' does not load: no valid "
     "PEM certificate in it"),
    ("{cert: tls/router.pem, key: tls/router.key, client_certificates: required}",
     "settings.yaml:3:73: settings.tls.client_certificates: 'required' needs client_ca: the "
     "CA certificates that sign the senders' certificates"),
    ("{cert: tls/router.pem, key: tls/router.key, client_ca: tls/senders.pem}",
     "settings.yaml:3:63: warning: settings.tls.client_ca: not used while "
     "client_certificates is 'none': set that to 'optional' or 'required'"),
    ("{cert: tls/router.pem}",
     "settings.yaml:3:8: settings.tls: missing required key 'key'"),
])
def test_each_problem_names_its_line(pems: Path, tls: str, expected: str) -> None:
    path = settings(pems.parent, tls)
    found = [problem.replace(str(path), "settings.yaml") for problem in problems([path])]
    assert found == [expected.format(dir=pems)], found


def test_an_encrypted_key_is_refused_without_asking_for_a_passphrase(pems: Path) -> None:
    subprocess.run(["openssl", "pkey", "-in", str(pems / "router.key"), "-aes256", "-passout",
                    "pass:secret", "-out", str(pems / "encrypted.key")], check=True)
    path = settings(pems.parent, "{cert: tls/router.pem, key: tls/encrypted.key}")
    assert [problem.replace(str(path), "settings.yaml") for problem in problems([path])] == [
        f"settings.yaml:3:36: settings.tls.key: '{pems}/encrypted.key' is encrypted with a "
        "passphrase, which router cannot ask for: write it unencrypted (openssl pkey -in KEY "
        "-out PLAIN) and readable by router's user only"]


def test_router_validate_checks_the_pair(pems: Path) -> None:
    good = settings(pems.parent, "{cert: tls/router.pem, key: tls/router.key}")
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(good)], out, err) == 0, err.getvalue()
    bad = settings(pems.parent, "{cert: tls/router.pem, key: tls/other.key}")
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(bad)], out, err) == 1
    assert err.getvalue() == (
        f"{bad}:3:36: settings.tls.key: '{pems}/other.key' is not the private key of the "
        f"certificate in '{pems}/router.pem'\nconfig invalid: 1 problem\n")


def test_no_secrets_leaves_the_files_alone(pems: Path) -> None:
    """A CI runner has no key: `router validate --no-secrets` checks all but the files."""
    path = settings(pems.parent, "{cert: tls/router.pem, key: /run/credentials/router.key}")
    assert problems([path], resolve_secrets=False) == []
    assert problems([path]) == [
        f"{path}:3:36: settings.tls.key: no such file: '/run/credentials/router.key'"]
    required = settings(pems.parent, "{cert: a.pem, key: b.key, client_certificates: required}")
    assert problems([required], resolve_secrets=False) == [
        f"{required}:3:55: settings.tls.client_certificates: 'required' needs client_ca: the "
        "CA certificates that sign the senders' certificates"]
