"""A customer contacting support about an order, and the agent answering from the lookup:
the reply the policy source renders for the order's situation. Most are settled by that
first answer; some customers write back and need a second one (no first-contact
resolution)."""

from simulation.log import Json
from simulation.runtime import Sim

CHANNELS = ("chat", "email", "phone")
TOPICS = {"pickup": "late_pickup", "ship": "where_is_my_order", "curbside": "late_pickup"}
FIRST_ANSWER_SETTLES = 0.8  # the documents' target band: 70-80 %


async def contact(sim: Sim, order: Json, after_minutes: float) -> None:
    await sim.wait(after_minutes)
    ticket_id = sim.next_id("tk")
    body = {
        "id": ticket_id,
        "topic": TOPICS.get(order["method"], "other"),
        "channel": sim.rng.choice(CHANNELS),
        "order_id": order["id"],
    }
    ticket = await sim.call("POST", "/v1/support/tickets", body)
    sim.log.tickets[ticket_id] = ticket
    await sim.wait(sim.rng.uniform(2, 30))  # in the agent's queue
    found = await sim.call("GET", f"/v1/support/lookup?q={order['id']}")
    reply = found.get("reply") or {}
    text = reply.get("text") or "We are looking into your order."
    settles = sim.rng.random() < FIRST_ANSWER_SETTLES
    path = f"/v1/support/tickets/{ticket_id}/replies"
    if settles:
        ticket = await sim.call("POST", path, {"author": "agent", "body": text, "resolves": True})
    else:
        await sim.call("POST", path, {"author": "agent", "body": text, "resolves": False})
        await sim.wait(sim.rng.uniform(10, 60))
        await sim.call("POST", path, {"author": "customer", "body": "That did not help."})
        await sim.wait(sim.rng.uniform(2, 30))
        answer = {"author": "agent", "body": "Sorted: " + text, "resolves": True}
        ticket = await sim.call("POST", path, answer)
    sim.log.tickets[ticket_id] = ticket
