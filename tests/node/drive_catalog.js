// Drives every pipelines, stages, products, product fields, notes, recents, webhooks and single-delete operation of
// the official Node client's v1 classes against a running mock (see harness.js for how it is run and what it
// prints). Every call's answer is checked: what is written is read back, and what is deleted is gone.
'use strict';

const { Client, apiClient, call, refused, same, sameList, ids, run } = require('./harness');

const pipelines = new Client.PipelinesApi(apiClient);
const stages = new Client.StagesApi(apiClient);
const products = new Client.ProductsApi(apiClient);
const productFields = new Client.ProductFieldsApi(apiClient);
const notes = new Client.NotesApi(apiClient);
const recents = new Client.RecentsApi(apiClient);
const deals = new Client.DealsApi(apiClient);
const activities = new Client.ActivitiesApi(apiClient);
const filters = new Client.FiltersApi(apiClient);
const webhooks = new Client.WebhooksApi(apiClient);
const persons = new Client.PersonsApi(apiClient);

const listed = (id, what) => (records) => (ids(records).includes(id) ? undefined : `${what} ${id} is not listed`);
const unlisted = (id, what) => (records) => (ids(records).includes(id) ? `${what} ${id} is still listed` : undefined);
const priceIn = (product, currency) => (product.prices || []).find((price) => price.currency === currency) || {};

run(async () => {
  // --- pipelines and stages ---------------------------------------------------------------------------------------
  const before = await call('getPipelines', pipelines.getPipelines(), (data) => (data.length ? undefined : 'none'));
  const pipeline = await call(
    'addPipeline',
    pipelines.addPipeline({ name: 'Node Client Pipeline', deal_probability: 1 }),
    (data) => same(data.name, 'Node Client Pipeline', 'name') || same(data.active_flag, true, 'active_flag'),
  );
  await call(
    'getPipelines',
    pipelines.getPipelines(),
    (data) => same(data.length, before.length + 1, 'pipelines') || listed(pipeline.id, 'pipeline')(data),
  );
  await call(
    'updatePipeline',
    pipelines.updatePipeline(pipeline.id, { name: 'Node Client Pipeline Renamed' }),
    (data) => same(data.name, 'Node Client Pipeline Renamed', 'name'),
  );
  await call(
    'getPipeline',
    pipelines.getPipeline(pipeline.id, {}),
    (data) =>
      same(data.name, 'Node Client Pipeline Renamed', 'name') ||
      same(data.url_title, 'node-client-pipeline-renamed', 'url_title'),
  );

  const stageNames = ['Node First', 'Node Second', 'Node Third'];
  const added = [];
  for (const name of stageNames) {
    added.push(
      await call(
        'addStage',
        stages.addStage({ name, pipeline_id: pipeline.id }),
        (data) => same(data.name, name, 'name') || same(data.pipeline_id, pipeline.id, 'pipeline_id'),
      ),
    );
  }
  const [first, second, third] = added;
  await call('getStages', stages.getStages({ pipeline_id: pipeline.id }), (data) =>
    sameList(ids(data), ids(added), "the pipeline's stages in order"),
  );
  await call(
    'updateStage',
    stages.updateStage(first.id, { name: 'Node Qualified', rotten_flag: true, rotten_days: 5 }),
    (data) => same(data.name, 'Node Qualified', 'name') || same(data.rotten_days, 5, 'rotten_days'),
  );
  await call(
    'getStage',
    stages.getStage(first.id, {}),
    (data) =>
      same(data.name, 'Node Qualified', 'name') ||
      same(data.rotten_flag, true, 'rotten_flag') ||
      same(data.pipeline_name, 'Node Client Pipeline Renamed', 'pipeline_name'),
  );

  // A deal in the first stage: the pipeline's and the stage's deals show it, and both refuse to be deleted.
  const person = (await persons.addPerson({ name: 'Node Catalog Person' })).data;
  const deal = (
    await deals.addDeal({
      name: 'Node catalog deal',
      person_id: person.id,
      stage_id: first.id,
      value: 250,
      currency: 'EUR',
    })
  ).data;
  if (deal.pipeline_id !== pipeline.id) throw new Error(`the deal went to pipeline ${deal.pipeline_id}`);
  // Both lists show a deal's people as plain ids (the client's DealStrict model), the records in related_objects.
  const strict = (data, answer) =>
    sameList(ids(data), [deal.id], 'deals') ||
    same(data[0].person_id, person.id, 'person_id') ||
    same(data[0].user_id, deal.user_id.value, 'user_id') ||
    same(data[0].creator_user_id, deal.creator_user_id.value, 'creator_user_id') ||
    same(data[0].org_id, null, 'org_id') ||
    same(answer.related_objects.person[person.id].name, person.name, 'the related person');
  await call('getPipelineDeals', pipelines.getPipelineDeals(pipeline.id, {}), strict);
  await call('getPipelineDeals', pipelines.getPipelineDeals(pipeline.id, { stage_id: second.id }), (data) =>
    same((data || []).length, 0, 'deals of the second stage'),
  );
  await call('getStageDeals', stages.getStageDeals(first.id, {}), strict);
  await call('getStageDeals', stages.getStageDeals(second.id, {}), (data) => same((data || []).length, 0, 'deals'));
  await call('getPipeline', pipelines.getPipeline(pipeline.id, {}), (data) =>
    same(data.deals_summary && data.deals_summary.total_count, 1, 'deals_summary.total_count'),
  );
  await refused('deleteStage', stages.deleteStage(first.id), 400);
  await refused('deletePipeline', pipelines.deletePipeline(pipeline.id), 400);

  await call('deleteStage', stages.deleteStage(third.id), (data) => same(data.id, third.id, 'id'));
  await refused('getStage', stages.getStage(third.id, {}), 404);
  await call('deleteStages', stages.deleteStages(String(second.id)), (data) => sameList(data.id, [second.id], 'ids'));
  await call('getStages', stages.getStages({ pipeline_id: pipeline.id }), (data) =>
    sameList(ids(data), [first.id], 'stages left'),
  );

  // --- product fields and products --------------------------------------------------------------------------------
  await call('getProductFields', productFields.getProductFields({}), (data) =>
    data.some((f) => f.key === 'name') ? undefined : 'no name field',
  );
  const colour = await call(
    'addProductField',
    productFields.addProductField({ name: 'Node Colour', field_type: 'varchar' }),
    (data) => same(data.key.length, 40, 'key length') || same(data.field_type, 'varchar', 'field_type'),
  );
  await call('getProductField', productFields.getProductField(colour.id), (data) =>
    same(data.name, 'Node Colour', 'name'),
  );
  await call('updateProductField', productFields.updateProductField(colour.id, { name: 'Node Shade' }), (data) =>
    same(data.name, 'Node Shade', 'name'),
  );
  await call('getProductFields', productFields.getProductFields({}), (data) => {
    const found = data.find((f) => f.id === colour.id);
    return found ? same(found.name, 'Node Shade', 'name in the list') : 'the new field is not listed';
  });

  const prices = [
    { currency: 'EUR', price: 10, cost: 4, overhead_cost: 1 },
    { currency: 'USD', price: 12, cost: 5, overhead_cost: 0 },
  ];
  const product = await call(
    'addProduct',
    products.addProduct({ name: 'Node Widget', code: 'NW-1', unit: 'pcs', tax: 24, prices, [colour.key]: 'red' }),
    (data) =>
      same(data.code, 'NW-1', 'code') ||
      same(priceIn(data, 'USD').price, 12, 'USD price') ||
      same(data[colour.key], 'red', 'custom value'),
  );
  await call(
    'getProduct',
    products.getProduct(product.id),
    (data) =>
      same(data.name, 'Node Widget', 'name') ||
      same(data.prices.length, 2, 'prices') ||
      same(priceIn(data, 'EUR').cost, 4, 'EUR cost') ||
      same(data.tax, 24, 'tax'),
  );
  await call(
    'updateProduct',
    products.updateProduct(product.id, {
      name: 'Node Widget Pro',
      prices: [{ currency: 'EUR', price: 15 }],
      [colour.key]: 'blue',
    }),
    (data) =>
      same(data.name, 'Node Widget Pro', 'name') ||
      same(data.prices.length, 1, 'prices') ||
      same(data[colour.key], 'blue', 'custom value'),
  );
  await call(
    'getProduct',
    products.getProduct(product.id),
    (data) => same(priceIn(data, 'EUR').price, 15, 'EUR price') || same(data.code, 'NW-1', 'code kept'),
  );
  await call('getProducts', products.getProducts({ first_char: 'n', limit: 500 }), listed(product.id, 'product'));
  await call('getProducts', products.getProducts({ ids: [product.id] }), (data) =>
    sameList(ids(data), [product.id], 'ids'),
  );
  await call('searchProducts', products.searchProducts('Widget Pro', {}), (data) =>
    same(data.items.length && data.items[0].item.id, product.id, 'found id'),
  );
  await call('searchProducts', products.searchProducts('NW-1', { fields: 'code', exact_match: true }), (data) =>
    same(data.items.length && data.items[0].item.id, product.id, 'found by code'),
  );
  await call('getProductDeals', products.getProductDeals(product.id, {}), (data) =>
    same((data || []).length, 0, 'deals before'),
  );
  await deals.addDealProduct(deal.id, { product_id: product.id, item_price: 15, quantity: 2 });
  await call('getProductDeals', products.getProductDeals(product.id, {}), (data) =>
    sameList(ids(data), [deal.id], 'deals'),
  );

  // --- notes ------------------------------------------------------------------------------------------------------
  const onDeal = await call(
    'addNote',
    notes.addNote({ content: 'Node: call back', deal_id: deal.id, pinned_to_deal_flag: 1 }),
    (data) => same(data.deal_id, deal.id, 'deal_id') || same(data.pinned_to_deal_flag, true, 'pinned_to_deal_flag'),
  );
  const onPerson = await call(
    'addNote',
    notes.addNote({ content: 'Node: met at the fair', person_id: person.id }),
    (data) =>
      same(data.person_id, person.id, 'person_id') || same(data.pinned_to_deal_flag, false, 'pinned_to_deal_flag'),
  );
  const day = onDeal.add_time.slice(0, 10);
  await call('getNotes', notes.getNotes({ deal_id: deal.id }), (data) =>
    sameList(ids(data), [onDeal.id], "the deal's notes"),
  );
  await call('getNotes', notes.getNotes({ person_id: person.id }), (data) =>
    sameList(ids(data), [onPerson.id], "the person's notes"),
  );
  await call('getNotes', notes.getNotes({ pinned_to_deal_flag: 1, limit: 500 }), listed(onDeal.id, 'pinned note'));
  await call('getNotes', notes.getNotes({ pinned_to_deal_flag: 0, limit: 500 }), unlisted(onDeal.id, 'pinned note'));
  await call(
    'getNotes',
    notes.getNotes({ user_id: onDeal.user_id, start_date: day, end_date: day, limit: 500, sort: 'id DESC' }),
    (data) => sameList(ids(data).slice(0, 2), [onPerson.id, onDeal.id], "today's notes, newest first"),
  );
  await call('getNote', notes.getNote(onDeal.id), (data) => same(data.content, 'Node: call back', 'content'));
  await call(
    'updateNote',
    notes.updateNote(onDeal.id, { content: 'Node: called back', pinned_to_deal_flag: 0 }),
    (data) =>
      same(data.content, 'Node: called back', 'content') ||
      same(data.pinned_to_deal_flag, false, 'pinned_to_deal_flag'),
  );
  await call('getNote', notes.getNote(onDeal.id), (data) =>
    same(data.content, 'Node: called back', 'content read back'),
  );
  await call('getDealUpdates', deals.getDealUpdates(deal.id, {}), (data) =>
    data.some((entry) => entry.object === 'note' && entry.data.id === onDeal.id)
      ? undefined
      : "the deal's flow has no note",
  );
  await call('deleteNote', notes.deleteNote(onPerson.id), (data) =>
    data === true || (data && data.id === onPerson.id) ? undefined : `data ${JSON.stringify(data)}`,
  );
  await refused('getNote', notes.getNote(onPerson.id), 404);
  await call('getNotes', notes.getNotes({ person_id: person.id }), (data) =>
    same((data || []).length, 0, "the person's notes after the delete"),
  );

  // --- filters, activities and deals deleted one at a time --------------------------------------------------------
  const nameField = (await productFields.getProductFields({})).data.find((field) => field.key === 'name');
  const byName = (value) => ({
    glue: 'and',
    conditions: [
      {
        glue: 'and',
        conditions: [{ object: 'product', field_id: String(nameField.id), operator: '=', value, extra_value: null }],
      },
      { glue: 'or', conditions: [] },
    ],
  });
  const filter = (
    await filters.addFilter({ name: 'Node widgets', type: 'products', conditions: byName('Node Widget Pro') })
  ).data;
  await call('getProducts', products.getProducts({ filter_id: filter.id }), (data) =>
    sameList(ids(data), [product.id], 'filtered products'),
  );
  await call('deleteFilter', filters.deleteFilter(filter.id), (data) => same(data.id, filter.id, 'id'));
  await refused('getFilter', filters.getFilter(filter.id), 404);
  const spares = [];
  for (const name of ['Node spare one', 'Node spare two']) {
    spares.push((await filters.addFilter({ name, type: 'products', conditions: byName(name) })).data.id);
  }
  await call('deleteFilters', filters.deleteFilters(spares.join(',')), (data) => sameList(data.id, spares, 'ids'));
  await call('getFilters', filters.getFilters({ type: 'products' }), (data) =>
    ids(data).some((id) => spares.includes(id) || id === filter.id) ? 'a deleted filter is listed' : undefined,
  );

  const activity = (await activities.addActivity({ subject: 'Node call', type: 'call', deal_id: deal.id })).data;
  await call('deleteActivity', activities.deleteActivity(activity.id), (data) => same(data.id, activity.id, 'id'));
  await refused('getActivity', activities.getActivity(activity.id), 404);

  await call('deleteDeal', deals.deleteDeal(deal.id), (data) => same(data.id, deal.id, 'id'));
  await call('getDeals', deals.getDeals({ status: 'deleted', limit: 500 }), listed(deal.id, 'deleted deal'));
  await call('getStageDeals', stages.getStageDeals(first.id, {}), (data) =>
    same((data || []).length, 0, 'deals after the delete'),
  );

  // --- what is left of the catalog goes, now that no deal holds it ------------------------------------------------
  await call('deleteProduct', products.deleteProduct(product.id), (data) => same(data.id, product.id, 'id'));
  await refused('getProduct', products.getProduct(product.id), 404);
  await call('deleteProductField', productFields.deleteProductField(colour.id), (data) =>
    same(data.id, colour.id, 'id'),
  );
  await refused('getProductField', productFields.getProductField(colour.id), 404);
  await call('deletePipeline', pipelines.deletePipeline(pipeline.id), (data) => same(data.id, pipeline.id, 'id'));
  await refused('getPipeline', pipelines.getPipeline(pipeline.id, {}), 404);
  await refused('getStage', stages.getStage(first.id, {}), 404);
  await call('getPipelines', pipelines.getPipelines(), unlisted(pipeline.id, 'pipeline'));

  // --- recents: every change since the pipeline was added, in order, deletes included -----------------------------
  const since = pipeline.add_time;
  await call('getRecents', recents.getRecents(since, { items: 'pipeline,stage,product,note', limit: 500 }), (data) => {
    const seen = new Map(data.map((entry) => [`${entry.item}:${entry.id}`, entry.data]));
    const wanted = [
      `pipeline:${pipeline.id}`,
      ...added.map((stage) => `stage:${stage.id}`),
      `product:${product.id}`,
      `note:${onDeal.id}`,
      `note:${onPerson.id}`,
    ];
    const missing = wanted.filter((key) => !seen.has(key));
    if (missing.length) return `not in the recents: ${missing.join(', ')}`;
    if (data.some((entry) => !['pipeline', 'stage', 'product', 'note'].includes(entry.item)))
      return 'a kind not asked for';
    const times = data.map((entry) => entry.data.update_time || entry.data.add_time);
    if (times.some((time, index) => index && time < times[index - 1])) return 'not in the order of change';
    return (
      same(seen.get(`pipeline:${pipeline.id}`).active_flag, false, "the deleted pipeline's active_flag") ||
      same(seen.get(`note:${onPerson.id}`).active_flag, false, "the deleted note's active_flag")
    );
  });
  await call('getRecents', recents.getRecents(since, { items: 'deal,activity,filter', limit: 1 }), (data, answer) => {
    const more = answer.additional_data && answer.additional_data.pagination;
    return (
      same(data.length, 1, 'items on the page') ||
      same(more && more.more_items_in_collection, true, 'more_items_in_collection')
    );
  });
  await call('getRecents', recents.getRecents(since, { items: 'deal,activity,filter', limit: 500 }), (data) => {
    const keys = data.map((entry) => `${entry.item}:${entry.id}`);
    const missing = [
      `deal:${deal.id}`,
      `activity:${activity.id}`,
      `filter:${filter.id}`,
      ...spares.map((id) => `filter:${id}`),
    ].filter((key) => !keys.includes(key));
    return missing.length ? `not in the recents: ${missing.join(', ')}` : undefined;
  });

  // --- webhooks: subscribed and unsubscribed with no change in between, so nothing is sent ------------------------
  const hook = await call(
    'addWebhook',
    webhooks.addWebhook({
      subscription_url: 'http://127.0.0.1:9/node-client',
      event_action: 'added',
      event_object: 'deal',
    }),
    (data) =>
      same(data.subscription_url, 'http://127.0.0.1:9/node-client', 'subscription_url') ||
      same(data.event_object, 'deal', 'event_object'),
  );
  await call('getWebhooks', webhooks.getWebhooks(), listed(hook.id, 'webhook'));
  await call('deleteWebhook', webhooks.deleteWebhook(hook.id), (data, answer) =>
    answer.status === 'ok' || (data && data.id === hook.id) ? undefined : JSON.stringify(answer),
  );
  await call('getWebhooks', webhooks.getWebhooks(), unlisted(hook.id, 'webhook'));
});
