/**
 * The mail store's message model: `store.Message` in Odoo 18.0, `store["mail.message"]` in 19.0
 * (19.0 names the client's models after the server's).
 */
export function messageModel(store) {
    return store["mail.message"] ?? store.Message;
}
