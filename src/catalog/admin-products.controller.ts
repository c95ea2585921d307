import { Body, Controller, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { type Page, PageOf } from '../common/pagination/pagination';
import { CatalogService } from './catalog.service';
import { CreateProductDto } from './dto/create-product.dto';
import { ListProductsQueryDto } from './dto/list-products-query.dto';
import { ProductDto } from './dto/product.dto';
import { UpdateProductDto } from './dto/update-product.dto';

const ProductList = PageOf(ProductDto);

const COMPLIANCE_REFUSALS =
  "card_limit_exceeded: a face value is above the card type's single-card limit (anonymous 1,000 CNY, registered 5,000 CNY); " +
  'validity_too_short: an anonymous product must be valid for at least 36 months, or not expire';

/** Operator endpoints for the card catalogue. */
@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/products')
export class AdminProductsController {
  constructor(private readonly catalog: CatalogService) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Idempotent()
  @ApiOperation({ summary: 'Create a card product', operationId: 'createProduct' })
  @ApiCreatedResponse({ type: ProductDto })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed: a field is missing, malformed or unknown' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: COMPLIANCE_REFUSALS })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateProductDto): Promise<ProductDto> {
    return this.catalog.create(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List card products, newest first', operationId: 'listProducts' })
  @ApiOkResponse({ type: ProductList })
  @ApiBadRequestResponse({ type: Problem, description: 'Invalid filter or cursor' })
  list(@Ctx() ctx: RequestContext, @Query() query: ListProductsQueryDto): Promise<Page<ProductDto>> {
    return this.catalog.list(ctx, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a card product, active or not', operationId: 'getProduct' })
  @ApiOkResponse({ type: ProductDto })
  @ApiNotFoundResponse({ type: Problem, description: 'resource_not_found' })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<ProductDto> {
    return this.catalog.get(ctx, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Update a card product: name, terms, designs, greeting, active; the result must stay compliant',
    operationId: 'updateProduct',
  })
  @ApiOkResponse({ type: ProductDto })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed' })
  @ApiNotFoundResponse({ type: Problem, description: 'resource_not_found' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: COMPLIANCE_REFUSALS })
  update(@Ctx() ctx: RequestContext, @Param('id') id: string, @Body() dto: UpdateProductDto): Promise<ProductDto> {
    return this.catalog.update(ctx, id, dto);
  }
}
