"""Broker and store security from settings: one mapping for every client bwv creates.

bwv talks to Kafka through three libraries — kafka-python (camera publisher,
``bwv init``, CLI senders, ``bwv tail``), aiokafka (the workers' catch-up readers)
and Faust (the workers themselves) — and each spells TLS and SASL differently.
Every client is built with one of the functions below, so a new client cannot
quietly connect in plain text to a broker that expects TLS, and the settings
(``BWV_KAFKA_SECURITY_PROTOCOL``, ``BWV_KAFKA_SASL_*``, ``BWV_KAFKA_CA_FILE``,
``BWV_S3_CA_FILE``) mean the same thing everywhere.

One TLS policy for all of them: ``ssl.create_default_context`` (certificate and
host name verified, the CA file given or the system's trusted CAs).

Nothing here imports Faust at module level: the camera side uses this module too.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from bwv.settings import Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for the brokers, or None when the protocol has no TLS."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.kafka_ca_file) if settings.kafka_ca_file else None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)


def _sasl(settings: Settings) -> tuple[str, str] | None:
    """(username, password) when the protocol is SASL_*."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return None
    # Settings refuse SASL_* without both; checked again for a hand-built Settings.
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    return settings.kafka_sasl_username or "", password


def kafka_python_security(settings: Settings) -> dict[str, object]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    kwargs: dict[str, object] = {"security_protocol": settings.kafka_security_protocol}
    context = kafka_ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context  # kafka-python then ignores its other ssl_* options
    sasl = _sasl(settings)
    if sasl is not None:
        kwargs.update(sasl_mechanism=settings.kafka_sasl_mechanism, sasl_plain_username=sasl[0], sasl_plain_password=sasl[1])
    return kwargs


def aiokafka_security(settings: Settings) -> dict[str, object]:
    """Keyword arguments for aiokafka's AIOKafkaConsumer / AIOKafkaProducer (same names as kafka-python's)."""
    # aiokafka took its configuration names from kafka-python, ssl_context included.
    return kafka_python_security(settings)


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """``faust.App(broker_credentials=...)``: None for PLAINTEXT (Faust's default)."""
    from faust.auth import SASLCredentials, SSLCredentials

    context = kafka_ssl_context(settings)
    sasl = _sasl(settings)
    if sasl is not None:
        # With an ssl_context Faust switches the protocol to SASL_SSL, without it SASL_PLAINTEXT.
        return SASLCredentials(
            username=sasl[0], password=sasl[1], mechanism=settings.kafka_sasl_mechanism, ssl_context=context
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def s3_pool_security(settings: Settings) -> dict[str, object]:
    """Keyword arguments for the urllib3 PoolManager under the S3 client: trust ``BWV_S3_CA_FILE``.

    TLS itself follows the endpoint's scheme (``https://``); urllib3 verifies the
    certificate against the system's CAs unless a CA file is given.
    """
    if settings.s3_ca_file is None:
        return {}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": str(settings.s3_ca_file)}
