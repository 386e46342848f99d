"""Kafka TLS/SASL and S3 TLS settings map onto every client library the same way.

No TLS broker is needed: these check the mapping (and that each library accepts
the names we pass); the default PLAINTEXT path is what every integration test runs.
"""

from __future__ import annotations

import datetime as dt
import inspect
import ssl
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from pydantic import ValidationError

from bwv.security import aiokafka_security, faust_credentials, kafka_python_security, s3_pool_security
from bwv.settings import Settings
from producers.publisher import producer_config


@pytest.fixture(autouse=True)
def _no_security_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests say every security setting themselves; a developer's exports must not leak in."""
    for name in ("PROTOCOL", "MECHANISM", "USERNAME", "PASSWORD", "CA_FILE"):
        for variable in (f"BWV_KAFKA_SECURITY_{name}", f"BWV_KAFKA_SASL_{name}", f"BWV_KAFKA_{name}"):
            monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("BWV_S3_CA_FILE", raising=False)
    monkeypatch.delenv("BWV_S3_ENDPOINT", raising=False)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate (PEM), as Strimzi's <cluster>-cluster-ca-cert holds."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bwv test CA")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("ca") / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def settings(**kwargs: object) -> Settings:
    return Settings(_env_file=None, **kwargs)  # type: ignore[call-arg]


def ca_names(context: ssl.SSLContext) -> list[str]:
    return [dict(item[0] for item in ca["subject"]).get("commonName", "") for ca in context.get_ca_certs()]


def test_plaintext_default_adds_nothing_but_the_protocol() -> None:
    s = settings()
    assert s.kafka_security_protocol == "PLAINTEXT"
    assert kafka_python_security(s) == {"security_protocol": "PLAINTEXT"}
    assert aiokafka_security(s) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(s) is None  # Faust's own default
    assert s3_pool_security(s) == {}


def test_ssl_verifies_the_broker_against_the_ca_file(ca_file: Path) -> None:
    s = settings(kafka_security_protocol="SSL", kafka_ca_file=ca_file)
    kwargs = kafka_python_security(s)
    assert kwargs["security_protocol"] == "SSL"
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert "bwv test CA" in ca_names(context)
    assert "sasl_mechanism" not in kwargs
    credentials = faust_credentials(s)
    assert type(credentials).__name__ == "SSLCredentials"
    assert "bwv test CA" in ca_names(credentials.context)  # type: ignore[union-attr]


def test_ssl_without_ca_file_trusts_the_system_cas() -> None:
    context = kafka_python_security(settings(kafka_security_protocol="SSL"))["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_sasl_ssl_scram(mechanism: str, ca_file: Path) -> None:
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="bwv-worker",
        kafka_sasl_password="s3cret",
        kafka_ca_file=ca_file,
    )
    kwargs = kafka_python_security(s)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == mechanism
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("bwv-worker", "s3cret")
    assert "bwv test CA" in ca_names(kwargs["ssl_context"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("protocol", "tls"), [("SASL_SSL", True), ("SASL_PLAINTEXT", False), ("SSL", True), ("PLAINTEXT", False)]
)
def test_faust_gets_what_aiokafka_gets(protocol: str, tls: bool) -> None:
    """Faust turns its credentials into aiokafka arguments: they must equal ours."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    sasl = {"kafka_sasl_username": "u", "kafka_sasl_password": "p"} if protocol.startswith("SASL") else {}
    s = settings(kafka_security_protocol=protocol, kafka_sasl_mechanism="SCRAM-SHA-256", **sasl)
    faust_side = credentials_to_aiokafka_auth(faust_credentials(s))
    ours = aiokafka_security(s)
    assert faust_side["security_protocol"] == ours["security_protocol"] == protocol
    assert (faust_side.get("ssl_context") is not None) is tls is ("ssl_context" in ours)
    for name in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
        assert faust_side.get(name) == ours.get(name)


def test_the_faust_app_is_built_with_the_credentials() -> None:
    import faust

    s = settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="p")
    app = faust.App("bwv-test-credentials", broker="kafka://127.0.0.1:1", broker_credentials=faust_credentials(s))
    credentials = app.conf.broker_credentials
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert credentials.mechanism.value == "SCRAM-SHA-512"  # the default mechanism


def test_every_library_accepts_the_argument_names() -> None:
    """A misspelt keyword would only fail when a client is built against a secure broker."""
    names = set(kafka_python_security(
        settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password="p")
    ))
    assert names == {"security_protocol", "ssl_context", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password"}
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        assert names <= set(client.DEFAULT_CONFIG), client.__name__
    for client in (AIOKafkaConsumer, AIOKafkaProducer):
        assert names <= set(inspect.signature(client).parameters), client.__name__


def test_the_camera_producer_config_carries_the_security() -> None:
    s = settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="cam-1", kafka_sasl_password="p")
    config = producer_config(s, linger_ms=0)
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_plain_username"] == "cam-1"
    assert isinstance(config["ssl_context"], ssl.SSLContext)


def test_settings_come_from_the_environment_and_the_password_stays_secret(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path
) -> None:
    monkeypatch.setenv("BWV_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("BWV_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("BWV_KAFKA_SASL_USERNAME", "bwv-worker")
    monkeypatch.setenv("BWV_KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("BWV_KAFKA_CA_FILE", str(ca_file))
    s = settings()
    assert s.kafka_sasl_mechanism == "SCRAM-SHA-256"
    assert "s3cret" not in repr(s)
    assert kafka_python_security(s)["sasl_plain_password"] == "s3cret"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"}, "needs BWV_KAFKA_SASL_PASSWORD"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "needs BWV_KAFKA_SASL_USERNAME and BWV_KAFKA_SASL_PASSWORD"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"}, "SCRAM-SHA-512"),
        ({"kafka_security_protocol": "TLS"}, "SASL_SSL"),
        ({"kafka_ca_file": "CA"}, "does not use TLS"),
        ({"kafka_security_protocol": "SSL", "kafka_ca_file": "/nonexistent/ca.crt"}, "no such file"),
        ({"s3_ca_file": "CA"}, "is not https://"),
        ({"s3_endpoint": "https://s3.example:9000", "s3_ca_file": "/nonexistent/ca.crt"}, "no such file"),
    ],
)
def test_inconsistent_security_settings_are_refused_with_the_reason(
    kwargs: dict[str, object], message: str, ca_file: Path
) -> None:
    kwargs = {k: (str(ca_file) if v == "CA" else v) for k, v in kwargs.items()}
    with pytest.raises(ValidationError, match=message):
        settings(**kwargs)


def test_s3_trusts_the_ca_file(ca_file: Path) -> None:
    from streams.objectstore import ObjectStore

    s = settings(s3_endpoint="https://s3.example:9000", s3_ca_file=ca_file)
    assert s3_pool_security(s) == {"cert_reqs": "CERT_REQUIRED", "ca_certs": str(ca_file)}
    store = ObjectStore(s)  # connects lazily: nothing is sent here
    pool_kw = store.client._http.connection_pool_kw  # the PoolManager the SDK uses
    assert pool_kw["ca_certs"] == str(ca_file) and pool_kw["cert_reqs"] == "CERT_REQUIRED"
