"""A contract call in-process behaves as it will over the wire."""

from __future__ import annotations

from typing import ClassVar, Protocol

import pytest

from cleave.contracts import Contract, ContractError, ContractModel, UnexpectedContractError, call
from cleave.contracts.registry import ContractRegistry, ContractUnavailable, client
from cleave.tests.example.contracts import (
    ORDERS,
    OrderGet,
    OrderNotFound,
    OrderOut,
    OrderPaid,
    OrdersService,
)
from cleave.tests.example.orders.services import order_place


class Ping(ContractModel):
    text: str


class Pong(ContractModel):
    text: str
    tags: list[str]


class Refused(ContractError):
    code = "echo.refused"
    status = 409


class Undeclared(ContractError):
    code = "echo.undeclared"


class EchoService(Protocol):
    @call(errors=[Refused])
    def echo(self, query: Ping) -> Pong: ...


ECHO = Contract(context="echo", version="1.0", service=EchoService)


class EchoProvider:
    def __init__(self) -> None:
        self.tags: list[str] = ["shared"]
        self.received: list[Ping] = []

    def echo(self, query: Ping) -> Pong:
        self.received.append(query)
        if query.text == "refuse":
            raise Refused(details={"why": "asked to"})
        if query.text == "undeclared":
            raise Undeclared()
        if query.text == "crash":
            raise ZeroDivisionError("provider bug")
        if query.text == "orm":
            return self  # type: ignore[return-value]  # an object that is not the result model
        return Pong(text=query.text, tags=self.tags)


@pytest.fixture
def echo() -> tuple[EchoService, EchoProvider]:
    registry = ContractRegistry()
    provider = EchoProvider()
    registry.provide(ECHO, provider)
    return registry.client(ECHO, EchoService), provider


def test_a_call_returns_an_equal_but_separate_result(
    echo: tuple[EchoService, EchoProvider],
) -> None:
    service, provider = echo
    argument = Ping(text="hi")
    result = service.echo(argument)
    assert result == Pong(text="hi", tags=["shared"])
    # Nothing is shared with the callee, as over the wire.
    assert result.tags is not provider.tags
    assert provider.received[0] == argument
    assert provider.received[0] is not argument


def test_a_declared_error_surfaces_as_the_contract_type(
    echo: tuple[EchoService, EchoProvider],
) -> None:
    service, _ = echo
    with pytest.raises(Refused) as caught:
        service.echo(Ping(text="refuse"))
    assert caught.value.details == {"why": "asked to"}
    assert caught.value.__cause__ is None  # rebuilt from the wire form, not the callee's object


@pytest.mark.parametrize("text", ["undeclared", "crash", "orm"])
def test_anything_else_the_callee_does_wrong_is_an_unexpected_error(
    echo: tuple[EchoService, EchoProvider], text: str
) -> None:
    service, _ = echo
    with pytest.raises(UnexpectedContractError) as caught:
        service.echo(Ping(text=text))
    assert caught.value.details == {"context": "echo", "call": "echo"}


def test_a_wrong_argument_type_is_refused_before_the_call(
    echo: tuple[EchoService, EchoProvider],
) -> None:
    service, provider = echo
    with pytest.raises(TypeError, match="takes Ping"):
        service.echo({"text": "hi"})  # type: ignore[arg-type]  # a dict, not Ping, on purpose
    assert provider.received == []


def test_a_contract_without_a_provider_is_unavailable() -> None:
    registry = ContractRegistry()
    with pytest.raises(ContractUnavailable):
        registry.client(ECHO, EchoService).echo(Ping(text="hi"))


def test_a_provider_missing_a_call_is_refused() -> None:
    with pytest.raises(TypeError, match="does not implement"):
        ContractRegistry().provide(ECHO, object())


def test_contract_declarations_are_checked() -> None:
    class Loose(Protocol):
        @call()
        def untyped(self, query) -> Pong: ...

    with pytest.raises(TypeError, match="one typed argument"):
        Contract(context="loose", version="1.0", service=Loose)
    with pytest.raises(ValueError, match="MAJOR.MINOR"):
        Contract(context="echo", version="1", service=EchoService)

    class Stray(OrderPaid):
        event_type: ClassVar[str] = "shipping.stray"

    with pytest.raises(ValueError, match="must be typed 'orders.<name>'"):
        Contract(context="orders", version="1.0", service=OrdersService, events=(Stray,))


@pytest.mark.django_db
def test_the_example_context_serves_its_contract_through_the_configured_client() -> None:
    orders = client(ORDERS, OrdersService)
    order = order_place(total=12, note="n")
    assert orders.order_get(OrderGet(order_id=order.pk)) == OrderOut(
        order_id=order.pk, total=12, note="n"
    )
    with pytest.raises(OrderNotFound, match="Order 999 does not exist"):
        orders.order_get(OrderGet(order_id=999))
