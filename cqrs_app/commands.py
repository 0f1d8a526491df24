"""cqrs_app's command side: the shared checkout plus its outbox row, in one transaction.

The checkout is the shop's server-side function (:mod:`shop.checkout`) with
one more step once the order is written: the OrderPlaced event goes into the
outbox in the same transaction (no dual write, no publish), and the projector
is woken by a notification, which PostgreSQL delivers only if the transaction
commits. The event and the business values the answer shows are built in SQL
from the same definitions as :func:`cqrs_app.events.order_placed` (a test
holds the two to the same result).
"""

from __future__ import annotations

from cqrs_app.events import EVENT_VERSION, NOTIFY_CHANNEL, ORDER_PLACED, business_values_sql
from shop.checkout import ORDER_STATUS, checkout_function_sql

CQRS_CHECKOUT = "cqrs_checkout"

_DECLARE = """
    v_status_label text;
    v_loyalty_points int;
    v_refund_deadline date;
"""

_AFTER_ORDER = f"""
    SELECT {business_values_sql(f"'{ORDER_STATUS}'::text", "v_total", "v_now")}
        INTO v_status_label, v_loyalty_points, v_refund_deadline;
    INSERT INTO outbox (event_type, payload) VALUES ('{ORDER_PLACED}', jsonb_build_object(
        'version', {EVENT_VERSION},
        'order_id', v_order,
        'user_id', p_user_id,
        'user_name', v_name,
        'status', '{ORDER_STATUS}',
        'status_label', v_status_label,
        'total_cents', v_total,
        'created_at', v_now,
        'loyalty_points', v_loyalty_points,
        'refund_deadline', v_refund_deadline,
        'lines', (SELECT jsonb_agg(jsonb_build_object(
                      'product_id', w.p, 'category', w.c, 'quantity', w.q,
                      'unit_price_cents', w.u) ORDER BY w.p)
                  FROM unnest(p_product_ids, v_categories, p_quantities, v_prices)
                      AS w(p, c, q, u))));
    response := response || jsonb_build_object(
        'status_label', v_status_label,
        'loyalty_points', v_loyalty_points,
        'refund_deadline', v_refund_deadline);
    PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
"""

CQRS_CHECKOUT_DDL = checkout_function_sql(CQRS_CHECKOUT, declare=_DECLARE, after_order=_AFTER_ORDER)
